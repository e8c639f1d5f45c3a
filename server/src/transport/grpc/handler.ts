/**
 * The wrapper every RPC goes through (MLServer's handle_mlserver_error, conventions §4.5): it maps
 * errors to gRPC statuses, records per-protocol metrics, opens the request span with the caller's
 * W3C trace context, and copies metadata to the core's headers.
 */
import { performance } from 'node:perf_hooks';
import { Metadata, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type TextMapGetter,
} from '@opentelemetry/api';
import { ErrorCode, toServerError, wellFormed } from '../../errors.js';
import type { RequestContext } from '../../core/types.js';
import type { PinoLogger } from '../../observability/logger.js';
import type { ServerMetrics } from '../../observability/metrics.js';
import { GRPC_STATUS } from './status.js';
import { undecodableError } from './undecodable.js';

const tracer = trace.getTracer('tessera-server');

const UNTRACED_METHODS = new Set(['ServerLive', 'ServerReady']);

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
};

/**
 * A handler body: gets the request, the core context and the trailing metadata it may fill
 * (MLServer sends response headers as trailing metadata), and returns the response.
 */
export type UnaryBody<Req, Res> = (
  request: Req,
  ctx: RequestContext,
  trailers: Metadata,
) => Promise<Res>;

/** What a wrapped handler needs. */
export interface HandlerDeps {
  readonly metrics: ServerMetrics;
  readonly logger: PinoLogger;
  /** Repository RPCs answer PERMISSION_DENIED: the admin port serves the repository API. */
  readonly repositoryRefused?: boolean;
  /** `raw` (default, Triton's behaviour) or `as_request` (typed contents for typed requests). */
  readonly outputContents?: 'raw' | 'as_request';
}

/** Lower-cased metadata as string headers; binary (`-bin`) entries are skipped. */
export function metadataHeaders(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/** Wraps a unary handler with error mapping, metrics and tracing. */
export function unary<Req, Res>(
  deps: HandlerDeps,
  rpc: { service: string; method: string },
  body: UnaryBody<Req, Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  const labels = { ...rpc, type: 'UNARY' };
  // Health probes are not traced (MLServer excludes ServerLive/ServerReady; v2-protocol §5.2).
  const traced = !UNTRACED_METHODS.has(rpc.method);
  return (call, callback) => {
    const started = performance.now();
    deps.metrics.grpcStarted(labels);
    const parent = propagation.extract(context.active(), call.metadata, metadataGetter);
    const span = traced
      ? tracer.startSpan(
          `${rpc.service}/${rpc.method}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              'rpc.system': 'grpc',
              'rpc.service': rpc.service,
              'rpc.method': rpc.method,
            },
          },
          parent,
        )
      : trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const trailers = new Metadata();
    const controller = new AbortController();
    let answered = false;
    // grpc-js also emits 'cancelled' when a call that was answered closes; only a call still
    // being worked on is really cancelled (and aborting costs a DOMException per call).
    call.once('cancelled', () => {
      if (!answered) controller.abort();
    });
    const ctx: RequestContext = {
      headers: metadataHeaders(call.metadata),
      signal: controller.signal,
      protocol: 'grpc',
    };
    const finish = (code: status): void => {
      answered = true;
      deps.metrics.grpcHandled(labels, status[code], (performance.now() - started) / 1000);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    context
      // async wrapper: a handler that throws synchronously still ends up in the rejection path.
      .with(trace.setSpan(parent, span), async () => {
        const undecodable = undecodableError(call.request, `${rpc.method}Request`);
        if (undecodable !== undefined) throw undecodable;
        return body(call.request, ctx, trailers);
      })
      .then(
        (result) => {
          finish(status.OK);
          callback(null, result, trailers);
        },
        (error: unknown) => {
          const serverError = toServerError(error);
          const code = GRPC_STATUS[serverError.code];
          if (serverError.code === ErrorCode.INTERNAL) {
            deps.logger.error(
              { err: error, rpc: rpc.method },
              'RPC failed with an unexpected error',
            );
          }
          finish(code);
          callback({ code, details: statusDetails(serverError.message) });
        },
      );
  };
}

const MAX_DETAILS_LENGTH = 4096;

/**
 * Status details travel percent-encoded (encodeURI) in an HTTP/2 trailer, which clients cap
 * (grpc-js: 8 KiB of metadata) and which encodeURI cannot build from lone surrogates: a message
 * that breaks either rule never reaches the client, whose call then hangs until its deadline.
 */
export function statusDetails(message: string): string {
  let text = wellFormed(message);
  if (encodeURI(text).length <= MAX_DETAILS_LENGTH) return text;
  while (encodeURI(text).length > MAX_DETAILS_LENGTH - 3)
    text = wellFormed(text.slice(0, Math.floor(text.length * 0.75)));
  return `${text}…`;
}
