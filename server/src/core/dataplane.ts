/**
 * The protocol-neutral data plane: the one implementation of every V2 operation that both the REST
 * and the gRPC adapters call (conventions §4.2; MLServer handlers/dataplane.py). Adapters convert
 * in, call one method here, and convert out; nothing else.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, ServerError, getErrorMessage, redactPaths, toServerError } from '../errors.js';
import type { LoadedModel, ModelRegistry } from './model-registry.js';
import type { RuntimeResult } from './model-runtime.js';
import type { CoreObserver, Logger } from './ports.js';
import { checkRequestElements, checkResponseBytes, type InferLimits } from './request-limits.js';
import { decodeRequest } from './codecs/decode-request.js';
import { encodeOutputs } from './codecs/encode-response.js';
import { requestedOutputNames } from './request-validation.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  Parameters,
  RepositoryIndexEntry,
  RequestContext,
  ServerMetadata,
} from './types.js';

const tracer = trace.getTracer('tessera-server');

/** Dependencies of the data plane. */
export interface DataPlaneDeps {
  readonly registry: ModelRegistry;
  readonly observer: CoreObserver;
  readonly logger: Logger;
  readonly server: ServerMetadata;
  /** 0 disables the per-request inference timeout. */
  readonly inferTimeoutMs: number;
  /** Bounds on the elements a request may carry and the bytes a response may hold. */
  readonly limits: InferLimits;
  /** Models that must be READY for the server to be ready (settings `required_models`). */
  readonly requiredModels?: readonly string[];
}

/** The server's data plane and model repository operations. */
export class DataPlane {
  readonly #deps: DataPlaneDeps;
  #live = true;
  #ready = false;

  constructor(deps: DataPlaneDeps) {
    this.#deps = deps;
  }

  /** Marks start-up loading as done: the server reports ready. */
  markReady(): void {
    this.#ready = true;
  }

  /** Begins shutdown: readiness turns false so load balancers stop sending traffic. */
  markShuttingDown(): void {
    this.#ready = false;
  }

  live(): boolean {
    return this.#live;
  }

  /** Ready: start-up finished, not shutting down, and every required model is serving. */
  ready(): boolean {
    return this.notReadyReason() === undefined;
  }

  /** Why the server is not ready, in user terms; undefined when it is. */
  notReadyReason(): string | undefined {
    if (!this.#ready) return 'server is not ready';
    const missing = (this.#deps.requiredModels ?? []).filter((name) => !this.#isServing(name));
    if (missing.length === 0) return undefined;
    return `server is not ready: required model(s) not ready: ${missing.map((m) => `'${m}'`).join(', ')}`;
  }

  #isServing(name: string): boolean {
    try {
      return this.#deps.registry.isReady(name);
    } catch {
      // A required model the registry has never seen (not on disk yet) is simply not ready.
      return false;
    }
  }

  serverMetadata(): ServerMetadata {
    return this.#deps.server;
  }

  modelReady(name: string, version?: string): boolean {
    return this.#deps.registry.isReady(name, version);
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const model = this.#deps.registry.acquire(name, version);
    try {
      const meta = model.instance.metadata;
      const settings = model.settings;
      return {
        name,
        versions: this.#deps.registry.servingVersions(name),
        platform: settings.platform !== '' ? settings.platform : meta.platform,
        inputs: settings.inputs.length > 0 ? settings.inputs : meta.inputs,
        outputs: settings.outputs.length > 0 ? settings.outputs : meta.outputs,
        ...(settings.contentType === undefined
          ? {}
          : { parameters: { content_type: settings.contentType } }),
      };
    } finally {
      model.release();
    }
  }

  /** Runs one inference. Validation, metrics, tracing and timeouts live here, once. */
  async infer(
    request: InferenceRequest,
    target: { model: string; version?: string },
    ctx: RequestContext,
  ): Promise<InferenceResponse> {
    // Before the model is acquired: a request over the limit takes no lease and no decoding.
    checkRequestElements(
      Array.isArray(request.inputs) ? request.inputs : [],
      this.#deps.limits.maxRequestElements,
    );
    const model = this.#deps.registry.acquire(target.model, target.version);
    const version = model.version;
    this.#deps.observer.inferStarted(target.model, version);
    const started = performance.now();
    let outcome: 'success' | 'failure' = 'failure';
    const call: RuntimeCall = {};
    try {
      const response = await tracer.startActiveSpan('model infer', async (span) => {
        span.setAttributes({ model: target.model, model_version: version, protocol: ctx.protocol });
        try {
          return await this.#run(model, request, target.model, ctx, call);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: getErrorMessage(error) });
          throw error;
        } finally {
          span.end();
        }
      });
      outcome = 'success';
      return response;
    } finally {
      this.#deps.observer.inferFinished(
        target.model,
        version,
        (performance.now() - started) / 1000,
        outcome,
      );
      // Released only after the metrics are recorded (an unload drops the model's series once it
      // drained) and after the runtime call settled, even when the client gave up or the deadline
      // passed: an unload must never free a model that native code still runs.
      const release = (): void => {
        model.release();
      };
      if (call.settled === undefined) release();
      else void call.settled.then(release, release);
    }
  }

  async #run(
    model: LoadedModel,
    request: InferenceRequest,
    modelName: string,
    ctx: RequestContext,
    call: RuntimeCall,
  ): Promise<InferenceResponse> {
    try {
      const metadata = model.instance.metadata;
      const inputs = decodeRequest(request, metadata, model.settings);
      const outputNames = requestedOutputNames(request.outputs, metadata);
      const id = requestId(request, ctx);
      const parameters: Parameters = { ...(request.parameters ?? {}), headers: ctx.headers };
      const runtimeCall = model.instance.infer(
        {
          id,
          parameters,
          inputs,
          ...(request.outputs === undefined ? {} : { outputs: request.outputs }),
        },
        {
          ...(outputNames === undefined ? {} : { outputNames }),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        },
      );
      call.settled = runtimeCall;
      const result = await this.#withDeadline(runtimeCall, modelName, ctx.signal);
      const outputs = encodeOutputs(
        result.outputs,
        request.outputs,
        model.settings,
        metadata.defaultContentType,
      );
      checkResponseBytes(modelName, outputs, this.#deps.limits.maxResponseBytes);
      return {
        modelName,
        ...(model.version === '' ? {} : { modelVersion: model.version }),
        id,
        ...(result.parameters === undefined ? {} : { parameters: result.parameters }),
        outputs,
      };
    } catch (error) {
      throw wrapRuntimeError(error, modelName);
    }
  }

  async #withDeadline<T>(work: Promise<T>, model: string, signal?: AbortSignal): Promise<T> {
    const timeoutMs = this.#deps.inferTimeoutMs;
    if (timeoutMs <= 0 && signal === undefined) return work;
    return new Promise<T>((resolveWork, rejectWork) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              rejectWork(
                new ServerError(
                  ErrorCode.TIMEOUT,
                  `inference on model '${model}' exceeded ${timeoutMs} ms`,
                ),
              );
            }, timeoutMs)
          : undefined;
      const onAbort = (): void => {
        rejectWork(
          new ServerError(ErrorCode.CANCELLED, `request for model '${model}' was cancelled`),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      work.then(resolveWork, rejectWork).finally(() => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      });
    });
  }

  async repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    return this.#deps.registry.index(readyOnly);
  }

  async repositoryLoad(name: string): Promise<void> {
    await this.#deps.registry.load(name);
  }

  async repositoryUnload(name: string): Promise<void> {
    await this.#deps.registry.unload(name);
  }
}

/** The runtime call of one inference, once started; the model lease waits for it to settle. */
interface RuntimeCall {
  settled?: Promise<RuntimeResult>;
}

/** The request id: the body's `id`, else an `x-request-id` header, else a new UUID (MLServer does the last). */
function requestId(request: InferenceRequest, ctx: RequestContext): string {
  if (typeof request.id === 'string' && request.id !== '') return request.id;
  const header = ctx.headers['x-request-id'];
  return header !== undefined && header !== '' ? header : randomUUID();
}

/** Runtime failures that are not ServerErrors become INFERENCE_FAILED with a path-free message. */
function wrapRuntimeError(error: unknown, model: string): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof Error) {
    return new ServerError(
      ErrorCode.INFERENCE_FAILED,
      `inference failed in model '${model}': ${redactPaths(error.message)}`,
      { cause: error },
    );
  }
  return toServerError(error);
}
