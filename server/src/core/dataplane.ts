/**
 * The protocol-neutral data plane: the one implementation of every V2 operation that both the REST
 * and the gRPC adapters call (conventions §4.2; MLServer handlers/dataplane.py). Adapters convert
 * in, call one method here, and convert out; nothing else.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, ServerError, getErrorMessage, invalidInput, shorten } from '../errors.js';
import { AdaptiveBatcher } from './adaptive-batcher.js';
import { fromGenerateDocument, toGenerateDocument } from './generate.js';
import type { ModelStatisticsSnapshot } from './inference-statistics.js';
import { inferStream } from './infer-stream.js';
import { requestId, withDeadline, wrapRuntimeError } from './infer-support.js';
import {
  parseLoadParameters,
  removeFolder,
  writeVersionFolder,
  type LoadParameter,
  type LoadRequest,
} from './load-parameters.js';
import {
  applyConfigOverride,
  deriveModelConfig,
  type ConfigOverride,
  type TritonModelConfig,
} from './model-config.js';
import type { LoadOverride, LoadedModel, ModelRegistry } from './model-registry.js';
import { assertModelName } from './model-name.js';
import { withDefaults, type ModelSettings } from './model-settings.js';
import { answerCustomRoute } from './custom-handlers.js';
import type { CustomRequest, CustomResponse, CustomRoute, RuntimeResult } from './model-runtime.js';
import type { CoreObserver, Logger } from './ports.js';
import type { ResponseCache } from './response-cache.js';
import { checkRequestElements, checkResponseBytes, type InferLimits } from './request-limits.js';
import { decodeRequest } from './codecs/decode-request.js';
import { encodeOutputs } from './codecs/encode-response.js';
import { requestedOutputNames } from './request-validation.js';
import {
  SystemSharedMemory,
  type SharedMemoryRegionStatus,
  type SharedMemoryUse,
} from './system-shared-memory.js';
import type {
  DecodedRequest,
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  Parameters,
  RepositoryIndexEntry,
  RequestContext,
  ServerMetadata,
} from './types.js';

const tracer = trace.getTracer('tessera-server');

/**
 * The bound of a batcher's queue: requests beyond it are refused with OVERLOADED at once rather
 * than growing memory (issue: "a saturated queue answers 503 / UNAVAILABLE at once").
 */
const MIN_BATCH_QUEUE = 256;
const BATCH_QUEUE_PER_ROW = 16;

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
  /** The server's `parallel_workers`, reported as a model's instance count unless it sets its own. */
  readonly parallelWorkers?: number;
  /** Triton's system shared-memory regions (absent: requests naming shared memory are refused). */
  readonly sharedMemory?: SystemSharedMemory;
  /** The response cache, when the server's `cache_enabled` is on (core/response-cache.ts). */
  readonly responseCache?: ResponseCache;
}

/** The server's data plane and model repository operations. */
export class DataPlane {
  readonly #deps: DataPlaneDeps;
  #live = true;
  #ready = false;
  /** Aborted at shutdown: streams have no natural end to drain to, so they are ended. */
  readonly #stopStreams = new AbortController();
  /** One batcher per loaded version that batches; dropped with the version (a WeakMap key). */
  readonly #batchers = new WeakMap<LoadedModel, AdaptiveBatcher>();

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
    this.#stopStreams.abort();
  }

  /** Whether shutdown has begun (readiness is off for good). */
  shuttingDown(): boolean {
    return this.#stopStreams.signal.aborted;
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

  /** Why a model that is not ready is not (a restarting worker, loading, a failed load). */
  whyNotReady(name: string, version?: string): string {
    return this.#deps.registry.whyNotReady(name, version);
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
        // The runtime's own parameters (the Python worker names its path and class), then the
        // settings' content type.
        ...(settings.contentType === undefined && meta.parameters === undefined
          ? {}
          : {
              parameters: {
                ...meta.parameters,
                ...(settings.contentType === undefined
                  ? {}
                  : { content_type: settings.contentType }),
              },
            }),
      };
    } finally {
      model.release();
    }
  }

  /** Triton's model configuration of a serving model version (model configuration extension). */
  modelConfig(name: string, version?: string): TritonModelConfig {
    const model = this.#deps.registry.acquire(name, version);
    try {
      const metadata = this.modelMetadata(name, model.version === '' ? undefined : model.version);
      return deriveModelConfig(
        name,
        model.settings,
        metadata,
        model.triton,
        this.#deps.parallelWorkers ?? 1,
        this.#deps.responseCache !== undefined,
      );
    } finally {
      model.release();
    }
  }

  /**
   * Triton's statistics (statistics extension): every serving version of every model (no name),
   * of one model (no version), or of one version.
   */
  modelStatistics(name?: string, version?: string): ModelStatisticsSnapshot[] {
    return this.#deps.registry.serving(name, version).map(({ name: model, model: loaded }) =>
      // An unversioned model reports Triton's first version, "1": perf_analyzer parses the
      // version of every entry as an integer (inference_profiler.cc, std::stoll) and aborts on "".
      loaded.statistics.snapshot(model, loaded.version === '' ? '1' : loaded.version),
    );
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
    const call: RuntimeCall = { batchSize: 1, inputsDone: started, inferDone: started };
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
      const finished = performance.now();
      if (outcome === 'success' && call.cacheMissMs !== undefined) {
        model.statistics.recordCacheMiss(call.cacheMissMs);
      }
      if (outcome === 'success' && call.cacheHitMs !== undefined) {
        model.statistics.recordCacheHit(call.batchSize, started, finished, call.cacheHitMs);
      } else if (outcome === 'success' && call.dispatched !== undefined) {
        model.statistics.recordBatchedSuccess(
          call.batchSize,
          started,
          call.inputsDone,
          call.dispatched,
          call.inferDone,
          finished,
        );
        this.#deps.observer.batchQueueWait(
          target.model,
          version,
          (call.dispatched - call.inputsDone) / 1000,
        );
      } else if (outcome === 'success') {
        // A wait for a worker thread is queue time, not compute (Triton: queue + compute_infer).
        const dispatched =
          call.computeMs === undefined
            ? call.inputsDone
            : Math.max(call.inputsDone, call.inferDone - call.computeMs);
        model.statistics.recordSuccess(
          call.batchSize,
          started,
          call.inputsDone,
          dispatched,
          call.inferDone,
          finished,
        );
      } else {
        model.statistics.recordFailure(started, finished);
      }
      this.#deps.observer.inferFinished(
        target.model,
        version,
        (finished - started) / 1000,
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
    // Checked without awaiting: requests that name no shared memory (nearly all) pay nothing.
    if (!SystemSharedMemory.uses(request))
      return this.#runRequest(model, request, modelName, ctx, call);
    let use: SharedMemoryUse;
    try {
      use = await this.#sharedMemory().prepare(request);
    } catch (error) {
      throw wrapRuntimeError(error, modelName);
    }
    try {
      return await this.#runRequest(model, use.request, modelName, ctx, call, use);
    } finally {
      use.release();
    }
  }

  #sharedMemory(): SystemSharedMemory {
    const shm = this.#deps.sharedMemory;
    if (shm === undefined) {
      throw new ServerError(ErrorCode.UNSUPPORTED, 'this server has no shared memory support');
    }
    return shm;
  }

  async #runRequest(
    model: LoadedModel,
    request: InferenceRequest,
    modelName: string,
    ctx: RequestContext,
    call: RuntimeCall,
    shm?: SharedMemoryUse,
  ): Promise<InferenceResponse> {
    try {
      const metadata = model.instance.metadata;
      const inputs = decodeRequest(request, metadata, model.settings);
      const outputNames = requestedOutputNames(request.outputs, metadata);
      // Triton counts a batching model's inferences by the batch dimension, others as one each.
      call.batchSize = model.settings.maxBatchSize > 0 ? (inputs[0]?.shape[0] ?? 1) : 1;
      call.inputsDone = performance.now();
      const id = requestId(request, ctx);
      const parameters: Parameters = { ...(request.parameters ?? {}), headers: ctx.headers };
      const decoded = {
        id,
        parameters,
        inputs,
        ...(request.outputs === undefined ? {} : { outputs: request.outputs }),
      };
      const result = await this.#answer(model, modelName, request, decoded, outputNames, ctx, call);
      call.inferDone = performance.now();
      const encoded = encodeOutputs(result.outputs, request.outputs, model.settings, metadata);
      const outputs = shm === undefined ? encoded : await shm.place(encoded);
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

  /**
   * The runtime's result for a decoded request: from the response cache when the model uses it
   * and the request repeats an earlier one, else from the runtime (alone or through its batcher),
   * then kept in the cache.
   */
  async #answer(
    model: LoadedModel,
    modelName: string,
    request: InferenceRequest,
    decoded: DecodedRequest,
    outputNames: readonly string[] | undefined,
    ctx: RequestContext,
    call: RuntimeCall,
  ): Promise<RuntimeResult> {
    const cache = model.settings.cacheEnabled ? this.#deps.responseCache : undefined;
    let key: string | undefined;
    let lookupMs = 0;
    if (cache !== undefined) {
      const before = performance.now();
      key = cache.key(model, {
        inputs: decoded.inputs,
        // The client's parameters; the headers the data plane adds are left out (file comment).
        parameters: request.parameters,
        outputNames,
      });
      const cached = cache.get(key);
      lookupMs = performance.now() - before;
      this.#deps.observer.cacheLookup(modelName, model.version, cached !== undefined);
      if (cached !== undefined) {
        call.cacheHitMs = lookupMs;
        return cached;
      }
    }
    const batcher = this.#batcherOf(model, modelName);
    const result =
      batcher === undefined
        ? await this.#runAlone(model, modelName, decoded, outputNames, ctx, call)
        : await this.#runBatched(batcher, modelName, decoded, outputNames, ctx, call);
    if (cache !== undefined && key !== undefined) {
      const before = performance.now();
      cache.set(key, result);
      call.cacheMissMs = lookupMs + (performance.now() - before);
    }
    return result;
  }

  /** The runtime call of a model that does not batch. */
  async #runAlone(
    model: LoadedModel,
    modelName: string,
    request: DecodedRequest,
    outputNames: readonly string[] | undefined,
    ctx: RequestContext,
    call: RuntimeCall,
  ): Promise<RuntimeResult> {
    const runtimeCall = model.instance.infer(request, {
      ...(outputNames === undefined ? {} : { outputNames }),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onComputed: (computeMs) => {
        call.computeMs = computeMs;
      },
    });
    call.settled = runtimeCall;
    return withDeadline(runtimeCall, {
      model: modelName,
      timeoutMs: this.#deps.inferTimeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  }

  /**
   * The runtime call through the model's batcher. The deadline and the client's cancellation
   * reach the batcher as one signal, so a member that gives up while queued leaves its batch
   * (the others stay); once dispatched, its part of the answer is dropped.
   */
  async #runBatched(
    batcher: AdaptiveBatcher,
    modelName: string,
    request: DecodedRequest,
    outputNames: readonly string[] | undefined,
    ctx: RequestContext,
    call: RuntimeCall,
  ): Promise<RuntimeResult> {
    const gaveUp = new AbortController();
    const submitted = batcher.submit(request, {
      ...(outputNames === undefined ? {} : { outputNames }),
      signal: ctx.signal ? AbortSignal.any([ctx.signal, gaveUp.signal]) : gaveUp.signal,
    });
    call.settled = submitted;
    try {
      const { result, dispatched } = await withDeadline(submitted, {
        model: modelName,
        timeoutMs: this.#deps.inferTimeoutMs,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      call.dispatched = dispatched;
      return result;
    } catch (error) {
      gaveUp.abort();
      throw error;
    }
  }

  /** The version's batcher, created on first use when it batches (`max_batch_size` > 1, `max_batch_time` > 0). */
  #batcherOf(model: LoadedModel, modelName: string): AdaptiveBatcher | undefined {
    const { maxBatchSize, maxBatchTimeSeconds } = model.settings;
    if (maxBatchSize <= 1 || maxBatchTimeSeconds <= 0) return undefined;
    let batcher = this.#batchers.get(model);
    if (batcher === undefined) {
      const version = model.version;
      const statistics = model.statistics;
      const observer = this.#deps.observer;
      batcher = new AdaptiveBatcher({
        model: modelName,
        maxBatchSize,
        maxBatchTimeMs: maxBatchTimeSeconds * 1000,
        maxQueued: Math.max(MIN_BATCH_QUEUE, BATCH_QUEUE_PER_ROW * maxBatchSize),
        // The runtime's own signal is not passed: a batched call serves several clients.
        run: (batched, options) => model.instance.infer(batched, options),
        onExecution: (e) => {
          statistics.recordExecution(e.rows, e.concatMs, e.inferMs, e.splitMs);
          observer.batchExecuted(modelName, version, e.rows);
        },
      });
      this.#batchers.set(model, batcher);
    }
    return batcher;
  }

  /** Registered system shared-memory regions: one (by name) or all (system-shared-memory.ts). */
  systemSharedMemoryStatus(name?: string): SharedMemoryRegionStatus[] {
    return this.#sharedMemory().status(name);
  }

  /** Registers a system shared-memory region for inputs and outputs of later requests. */
  registerSystemSharedMemory(
    name: string,
    key: string,
    offset: number,
    byteSize: number,
  ): Promise<void> {
    return this.#sharedMemory().register(name, key, offset, byteSize);
  }

  /** Unregisters one region, or all when `name` is absent; requests using it finish first. */
  unregisterSystemSharedMemory(name?: string): Promise<void> {
    return this.#sharedMemory().unregister(name);
  }

  /** Triton's CUDA shared memory: refused with a reason, as this server computes on CPU. */
  cudaSharedMemory(): never {
    throw new ServerError(
      ErrorCode.UNSUPPORTED,
      'CUDA shared memory is not supported: this server computes on CPU; use system shared memory (/v2/systemsharedmemory)',
    );
  }

  /** Runs one request as a stream of responses (core/infer-stream.ts). */
  inferStream(
    request: InferenceRequest,
    target: { model: string; version?: string },
    ctx: RequestContext,
  ): AsyncGenerator<InferenceResponse, void, undefined> {
    if (SystemSharedMemory.uses(request)) return refusedStream();
    return inferStream(
      { ...this.#deps, stopSignal: this.#stopStreams.signal },
      request,
      target,
      ctx,
    );
  }

  /**
   * Answers a REST request outside the V2 API with the custom route of a loaded model that
   * mounts it (MLServer's custom handlers, core/custom-handlers.ts); 404 when none does.
   */
  customRoute(
    request: CustomRequest,
    ctx: RequestContext,
  ): Promise<{ readonly route: CustomRoute; readonly response: CustomResponse }> {
    return answerCustomRoute(
      {
        serving: () => this.#deps.registry.serving(),
        timeoutMs: this.#deps.inferTimeoutMs,
        maxResponseBytes: this.#deps.limits.maxResponseBytes,
      },
      request,
      ctx,
    );
  }

  /** Triton's generate: a flat JSON document in and out (core/generate.ts). */
  async generate(
    body: Record<string, unknown>,
    target: { model: string; version?: string },
    ctx: RequestContext,
  ): Promise<Record<string, unknown>> {
    const request = fromGenerateDocument(body, this.modelMetadata(target.model, target.version));
    return toGenerateDocument(await this.infer(request, target, ctx));
  }

  /** Triton's generate_stream: generate documents, one per response. */
  async *generateStream(
    body: Record<string, unknown>,
    target: { model: string; version?: string },
    ctx: RequestContext,
  ): AsyncGenerator<Record<string, unknown>, void, undefined> {
    const request = fromGenerateDocument(body, this.modelMetadata(target.model, target.version));
    for await (const response of this.inferStream(request, target, ctx)) {
      yield toGenerateDocument(response);
    }
  }

  async repositoryIndex(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    return this.#deps.registry.index(readyOnly);
  }

  /**
   * Loads or reloads a model. `parameters` are Triton's load parameters (`config`, `file:…`,
   * load-parameters.ts); they are validated before anything is written or loaded.
   */
  async repositoryLoad(
    name: string,
    parameters: Readonly<Record<string, LoadParameter>> = {},
  ): Promise<void> {
    // Before anything is written: a `file:` load names its temporary folder after the model.
    assertModelName(name);
    const request = parseLoadParameters(name, parameters);
    await this.#deps.registry.load(name, await this.#loadOverride(name, request));
  }

  /** Unloads a model. Triton's only unload parameter, `unload_dependents`, is a bool; no model here has dependents. */
  async repositoryUnload(
    name: string,
    parameters: Readonly<Record<string, LoadParameter>> = {},
  ): Promise<void> {
    for (const [key, param] of Object.entries(parameters)) {
      if (key !== 'unload_dependents' || param.kind !== 'bool') {
        throw invalidInput(
          key === 'unload_dependents'
            ? `unload of model '${shorten(name)}': parameters.unload_dependents must be a boolean`
            : `unload of model '${shorten(name)}': unknown parameter '${shorten(key)}' (supported: unload_dependents)`,
        );
      }
    }
    await this.#deps.registry.unload(name);
  }

  async #loadOverride(name: string, request: LoadRequest): Promise<LoadOverride | undefined> {
    const config = request.config;
    if (config === undefined) return undefined;
    const implementation = this.#implementationOf(name, config, request.files !== undefined);
    const transform = (s: ModelSettings): ModelSettings =>
      applyConfigOverride(s, config, implementation);
    if (request.files === undefined) {
      if (config.default_model_filename !== undefined) {
        throw invalidInput(
          `load of model '${shorten(name)}': parameters.config: default_model_filename: only applies to a load from file: parameters (a model on disk names its file in parameters.uri)`,
        );
      }
      return { transform };
    }
    const folders: string[] = [];
    try {
      const replace: ModelSettings[] = [];
      for (const [version, files] of request.files) {
        const folder = await writeVersionFolder(name, version, files);
        folders.push(folder);
        replace.push(
          fileSettings(name, version, folder, config.default_model_filename, implementation),
        );
      }
      return { replace, transform, folders };
    } catch (error) {
      await Promise.all(folders.map(removeFolder));
      throw error;
    }
  }

  /** The runtime a config's `platform` / `backend` selects; required when the files replace the model. */
  #implementationOf(name: string, config: ConfigOverride, fromFiles: boolean): string | undefined {
    const registry = this.#deps.registry;
    for (const field of ['backend', 'platform'] as const) {
      const value = config[field];
      if (value === undefined || value === '') continue;
      const implementation = registry.resolveImplementation(value);
      if (implementation === undefined) {
        throw invalidInput(
          `load of model '${shorten(name)}': parameters.config: ${field}: '${shorten(value)}' is not a runtime of this server (available: ${registry.tritonNames().join(', ')})`,
        );
      }
      return implementation;
    }
    if (fromFiles) {
      throw invalidInput(
        `load of model '${shorten(name)}': parameters.config: a load from file: parameters must name its runtime in platform or backend (e.g. "backend": "onnxruntime")`,
      );
    }
    return undefined;
  }
}

/**
 * The runtime call of one inference, once started (the model lease waits for it to settle), and
 * the phase boundaries its statistics are computed from (`performance.now()` readings).
 */
interface RuntimeCall {
  settled?: Promise<unknown>;
  /** Milliseconds the cache lookup took when the answer came from the response cache. */
  cacheHitMs?: number;
  /** Milliseconds the lookup and the insert took when the cache had no answer yet. */
  cacheMissMs?: number;
  /** When a batched request left its batch queue; undefined when it ran alone. */
  dispatched?: number;
  /**
   * How long the model computed a request it ran alone on a worker thread, as the runtime
   * reported it; the rest of the runtime call was a wait for the thread (queue time).
   */
  computeMs?: number;
  batchSize: number;
  inputsDone: number;
  inferDone: number;
}

/** The settings of one version loaded from a load's `file:` parameters (before its config applies). */
function fileSettings(
  name: string,
  version: string,
  folder: string,
  defaultModelFilename: string | undefined,
  implementation: string | undefined,
): ModelSettings {
  return withDefaults({
    name,
    version,
    implementation: implementation ?? '',
    // Triton's layout: <model>/<version>/<default_model_filename>; without a file name the runtime
    // looks for its well-known file names in the version folder.
    uri:
      defaultModelFilename === undefined
        ? join(folder, version)
        : join(folder, version, defaultModelFilename),
    folder,
    source: `file:${version}`,
  });
}

/** A stream that fails at once: shared memory is read and written for unary inference only. */
// eslint-disable-next-line require-yield
async function* refusedStream(): AsyncGenerator<InferenceResponse, void, undefined> {
  await Promise.resolve();
  throw new ServerError(
    ErrorCode.UNSUPPORTED,
    'shared memory is read and written for unary inference (infer, ModelInfer), not for streams',
  );
}
