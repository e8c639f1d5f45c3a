/**
 * `ModelStreamInfer`, the bidirectional RPC tritonclient's `start_stream` / `async_stream_infer`
 * use (v2-protocol.md §4.2). Requests on the stream are answered in order, each with every
 * response the core's stream gives (Triton's decoupled semantics for runtimes that stream, one
 * response otherwise) as `ModelStreamInferResponse`; a failed request gets one message with
 * `error_message` set and the stream goes on. A request with the parameter
 * `triton_enable_empty_final_response` gets Triton's empty last response flagged
 * `triton_final_response`. The RPC ends when the client half-closes and every request was
 * answered; a cancelled call stops the running request's stream (its runtime iterator is returned).
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { DataPlane } from '../../core/dataplane.js';
import type { RequestContext } from '../../core/types.js';
import { ErrorCode, ServerError, toServerError } from '../../errors.js';
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse } from '../../generated/inference/ModelStreamInferResponse.js';
import { fromCoreInferResponse, toCoreInferRequest } from './convert.js';
import { metadataHeaders, statusDetails, type HandlerDeps } from './handler.js';
import { undecodableError } from './undecodable.js';

type StreamCall = ServerDuplexStream<ModelInferRequest__Output, ModelStreamInferResponse>;

const tracer = trace.getTracer('tessera-server');
const SERVICE = 'inference.GRPCInferenceService';
const RPC = { service: SERVICE, method: 'ModelStreamInfer', type: 'BIDI_STREAMING' };

/** Writes one message, waiting for the client to drain when grpc-js' buffer is full. */
async function send(
  call: StreamCall,
  message: ModelStreamInferResponse,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  if (call.write(message)) return;
  await once(call, 'drain', { signal }).catch(() => undefined);
}

const finalFlag = (final: boolean) => ({ triton_final_response: { bool_param: final } });

/** Answers one request of the stream. */
async function answer(
  dataplane: DataPlane,
  call: StreamCall,
  req: ModelInferRequest__Output,
  ctx: RequestContext & { signal: AbortSignal },
): Promise<void> {
  const undecodable = undecodableError(req, 'ModelInferRequest');
  if (undecodable !== undefined) {
    await send(call, { error_message: undecodable.message, infer_response: {} }, ctx.signal);
    return;
  }
  const head = { model_name: req.model_name, model_version: req.model_version, id: req.id };
  const final = req.parameters['triton_enable_empty_final_response']?.bool_param === true;
  try {
    if (req.model_name === '')
      throw new ServerError(ErrorCode.INVALID_INPUT, 'model_name is required');
    const version = req.model_version === '' ? undefined : req.model_version;
    const target = { model: req.model_name, ...(version === undefined ? {} : { version }) };
    const raw = req.raw_input_contents.length > 0;
    for await (const response of dataplane.inferStream(toCoreInferRequest(req), target, ctx)) {
      const message = fromCoreInferResponse(response, raw);
      if (final) message.parameters = { ...message.parameters, ...finalFlag(false) };
      await send(call, { error_message: '', infer_response: message }, ctx.signal);
      if (ctx.signal.aborted) return;
    }
    if (final) {
      await send(
        call,
        { error_message: '', infer_response: { ...head, parameters: finalFlag(true) } },
        ctx.signal,
      );
    }
  } catch (error) {
    if (ctx.signal.aborted) return;
    const serverError = toServerError(error);
    await send(
      call,
      { error_message: statusDetails(serverError.message), infer_response: head },
      ctx.signal,
    );
  }
}

/** The ModelStreamInfer handler, with the metrics and span every RPC has. */
export function modelStreamInfer(
  dataplane: DataPlane,
  deps: HandlerDeps,
): (call: StreamCall) => void {
  return (call) => {
    const started = performance.now();
    deps.metrics.grpcStarted(RPC);
    const parent = propagation.extract(context.active(), call.metadata, {
      keys: (carrier) => Object.keys(carrier.getMap()),
      get: (carrier, key) => carrier.get(key).map(String),
    });
    const span = tracer.startSpan(
      `${SERVICE}/ModelStreamInfer`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.service': SERVICE,
          'rpc.method': 'ModelStreamInfer',
        },
      },
      parent,
    );
    const controller = new AbortController();
    let ended = false;
    call.once('cancelled', () => {
      if (!ended) controller.abort();
    });
    const ctx = {
      headers: metadataHeaders(call.metadata),
      signal: controller.signal,
      protocol: 'grpc' as const,
    };
    const finish = (code: status): void => {
      ended = true;
      deps.metrics.grpcHandled(RPC, status[code], (performance.now() - started) / 1000);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    void context.with(trace.setSpan(parent, span), async () => {
      try {
        // Async iteration reads one request at a time: a client cannot queue unbounded work.
        for await (const req of call as AsyncIterable<ModelInferRequest__Output>) {
          await answer(dataplane, call, req, ctx);
          if (controller.signal.aborted) break;
        }
        if (controller.signal.aborted) {
          finish(status.CANCELLED);
          return;
        }
        finish(status.OK);
        call.end();
      } catch (error) {
        if (controller.signal.aborted) {
          finish(status.CANCELLED);
          return;
        }
        deps.logger.error(
          { err: error, rpc: 'ModelStreamInfer' },
          'Stream failed with an unexpected error',
        );
        finish(status.INTERNAL);
        call.emit('error', {
          code: status.INTERNAL,
          details: statusDetails(toServerError(error).message),
        });
      }
    });
  };
}
