/**
 * Streaming inference, once for every adapter (REST server-sent events, gRPC ModelStreamInfer):
 * one request in, a stream of responses out. A runtime with `inferStream` (a custom runtime's
 * `predictStream`) gives Triton's decoupled semantics, any number of responses; every other
 * runtime gives exactly one. Validation, limits, metrics and the span are those of unary
 * inference; `infer_timeout_seconds` bounds the wait for each response.
 *
 * Stopping: when the consumer stops iterating (`return()`, e.g. the SSE client disconnected) or the
 * request's signal aborts, the runtime's iterator is returned, and the model lease is released only
 * once that has settled, so an unload never frees a model whose stream is still running.
 */
import { performance } from 'node:perf_hooks';
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { ErrorCode, ServerError, getErrorMessage } from '../errors.js';
import { requestId, withDeadline, wrapRuntimeError } from './infer-support.js';
import type { LoadedModel, ModelRegistry } from './model-registry.js';
import type { RuntimeResult } from './model-runtime.js';
import type { CoreObserver } from './ports.js';
import { checkRequestElements, checkResponseBytes, type InferLimits } from './request-limits.js';
import { decodeRequest } from './codecs/decode-request.js';
import { encodeOutputs } from './codecs/encode-response.js';
import { requestedOutputNames } from './request-validation.js';
import type {
  DecodedRequest,
  InferenceRequest,
  InferenceResponse,
  Parameters,
  RequestContext,
} from './types.js';

const tracer = trace.getTracer('tessera-server');

/** What streaming inference needs from the data plane. */
export interface StreamDeps {
  readonly registry: ModelRegistry;
  readonly observer: CoreObserver;
  readonly inferTimeoutMs: number;
  readonly limits: InferLimits;
  /** Aborted when the server shuts down: running streams end with SHUTTING_DOWN. */
  readonly stopSignal?: AbortSignal;
}

/** `work`, unless the server begins shutting down first. */
function untilStopped<T>(work: Promise<T>, stop: AbortSignal | undefined): Promise<T> {
  if (stop === undefined) return work;
  return new Promise<T>((resolveWork, rejectWork) => {
    const onStop = (): void => {
      rejectWork(
        new ServerError(
          ErrorCode.SHUTTING_DOWN,
          'the server is shutting down; the stream was ended',
        ),
      );
    };
    if (stop.aborted) onStop();
    stop.addEventListener('abort', onStop, { once: true });
    work.then(resolveWork, rejectWork).finally(() => {
      stop.removeEventListener('abort', onStop);
    });
  });
}

/** The runtime side of one stream: its results, and how to stop it. */
interface RuntimeStream {
  next(): Promise<IteratorResult<RuntimeResult>>;
  /** Stops the runtime (if it still runs) and resolves when it has. */
  stop(): Promise<unknown>;
}

function runtimeStream(
  model: LoadedModel,
  request: DecodedRequest,
  options: { outputNames?: readonly string[]; signal?: AbortSignal },
): RuntimeStream {
  const instance = model.instance;
  if (instance.inferStream === undefined) {
    // One response per request: the unary call as a stream of one.
    let call: Promise<RuntimeResult> | undefined;
    return {
      next: async () => {
        if (call !== undefined) return { done: true, value: undefined };
        call = instance.infer(request, options);
        return { done: false, value: await call };
      },
      stop: () => (call ?? Promise.resolve()).catch(() => undefined),
    };
  }
  const iterator = instance.inferStream(request, options);
  let ended = false;
  let pending: Promise<unknown> = Promise.resolve();
  return {
    next: () => {
      const step = iterator.next();
      pending = step.catch(() => undefined);
      return step.then((result) => {
        if (result.done === true) ended = true;
        return result;
      });
    },
    stop: () =>
      ended
        ? pending
        : Promise.resolve(iterator.return?.())
            .catch(() => undefined)
            .then(() => pending),
  };
}

/** Counted as unary inference counts them: rows for a batching model, else one. */
function inferenceCount(model: LoadedModel, decoded: DecodedRequest): number {
  return model.settings.maxBatchSize > 0 ? (decoded.inputs[0]?.shape[0] ?? 1) : 1;
}

function decodedRequest(model: LoadedModel, request: InferenceRequest, ctx: RequestContext) {
  const metadata = model.instance.metadata;
  const inputs = decodeRequest(request, metadata, model.settings);
  const outputNames = requestedOutputNames(request.outputs, metadata);
  const parameters: Parameters = { ...(request.parameters ?? {}), headers: ctx.headers };
  const decoded: DecodedRequest = {
    id: requestId(request, ctx),
    parameters,
    inputs,
    ...(request.outputs === undefined ? {} : { outputs: request.outputs }),
  };
  return { decoded, outputNames };
}

/**
 * Triton's statistics for a decoupled model: one request, a success once its last response is
 * sent; the whole stream counts as compute_infer (outputs are encoded as they come).
 */
function recordStream(
  model: LoadedModel,
  outcome: 'success' | 'failure',
  inferences: number,
  started: number,
  inputsDone: number,
  finished: number,
): void {
  if (outcome === 'success') {
    model.statistics.recordSuccess(inferences, started, inputsDone, inputsDone, finished, finished);
  } else {
    model.statistics.recordFailure(started, finished);
  }
}

/**
 * Runs one request as a stream of responses. Lazy: nothing happens before the first `next()`, and
 * an error before the first response rejects that call (adapters still answer it with a status).
 */
export async function* inferStream(
  deps: StreamDeps,
  request: InferenceRequest,
  target: { model: string; version?: string },
  ctx: RequestContext,
): AsyncGenerator<InferenceResponse, void, undefined> {
  checkRequestElements(
    Array.isArray(request.inputs) ? request.inputs : [],
    deps.limits.maxRequestElements,
  );
  const model = deps.registry.acquire(target.model, target.version);
  const modelName = target.model;
  deps.observer.inferStarted(modelName, model.version);
  const started = performance.now();
  const span: Span = tracer.startSpan('model infer_stream', {
    attributes: { model: modelName, model_version: model.version, protocol: ctx.protocol },
  });
  let outcome: 'success' | 'failure' = 'failure';
  let stream: RuntimeStream | undefined;
  let inputsDone = started;
  let inferences = 1;
  try {
    const { decoded, outputNames } = decodedRequest(model, request, ctx);
    inputsDone = performance.now();
    inferences = inferenceCount(model, decoded);
    stream = runtimeStream(model, decoded, {
      ...(outputNames === undefined ? {} : { outputNames }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const deadline = {
      model: modelName,
      timeoutMs: deps.inferTimeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    };
    for (;;) {
      const step = await withDeadline(untilStopped(stream.next(), deps.stopSignal), deadline);
      if (step.done === true) break;
      // Every response of the stream is encoded with its content types, as a unary one is.
      const outputs = encodeOutputs(
        step.value.outputs,
        request.outputs,
        model.settings,
        model.instance.metadata,
      );
      checkResponseBytes(modelName, outputs, deps.limits.maxResponseBytes);
      yield {
        modelName,
        ...(model.version === '' ? {} : { modelVersion: model.version }),
        id: decoded.id,
        ...(step.value.parameters === undefined ? {} : { parameters: step.value.parameters }),
        outputs,
      };
    }
    outcome = 'success';
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: getErrorMessage(error) });
    throw wrapRuntimeError(error, modelName);
  } finally {
    const finished = performance.now();
    recordStream(model, outcome, inferences, started, inputsDone, finished);
    deps.observer.inferFinished(modelName, model.version, (finished - started) / 1000, outcome);
    span.end();
    const release = (): void => {
      model.release();
    };
    if (stream === undefined) release();
    else void stream.stop().then(release, release);
  }
}
