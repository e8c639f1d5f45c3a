/**
 * Request messages that do not decode. grpc-js answers a deserializer that throws with INTERNAL
 * ("Error deserializing request"), which docs/errors.md reserves for server defects; bytes that
 * are not the RPC's message are the client's mistake (INVALID_ARGUMENT). So the service
 * definitions get deserializers that never throw: they hand the handler a marker instead, and the
 * handler wrapper (handler.ts) answers it with INVALID_ARGUMENT through the usual error path
 * (metrics, status mapping).
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { getErrorMessage, invalidInput, shorten, type ServerError } from '../../errors.js';

const UNDECODABLE = Symbol('undecodable request');

/** What a handler receives instead of a request that did not decode. */
interface Undecodable {
  readonly [UNDECODABLE]: string;
}

/** A copy of `definition` whose request deserializers return a marker instead of throwing. */
export function withTolerantDecoding(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [method, def] of Object.entries(definition) as [
    string,
    MethodDefinition<unknown, unknown>,
  ][]) {
    const decode = def.requestDeserialize;
    out[method] = {
      ...def,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return decode(bytes);
        } catch (error) {
          const marker: Undecodable = { [UNDECODABLE]: getErrorMessage(error) };
          return marker;
        }
      },
    };
  }
  return out;
}

/** The error for a request that did not decode, or undefined for a decoded one. */
export function undecodableError(request: unknown, messageType: string): ServerError | undefined {
  if (typeof request !== 'object' || request === null || !(UNDECODABLE in request)) {
    return undefined;
  }
  const reason = (request as Undecodable)[UNDECODABLE];
  return invalidInput(
    `the request is not a valid ${messageType} message (protobuf decoding failed: ${shorten(reason)})`,
  );
}
