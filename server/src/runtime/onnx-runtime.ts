/**
 * ONNX models through onnxruntime-node. Metadata (names, datatypes, shapes) comes from the model
 * itself, so a model-settings.json needs no `inputs`.
 *
 * By default each model instance runs its sessions in worker threads (`parallel_workers` threads
 * borrowed from the runtime's {@link WorkerPool}, each with its own session): onnxruntime-node
 * executes `run` on the calling thread, and on the event loop a slow model would stall every other
 * request and the health probes. The threads outlive instances, so loading and unloading models
 * does not start and stop threads. `parallel_workers: 0` keeps the session on the main thread,
 * which saves a thread hop (tens of microseconds) for tiny models.
 */
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ErrorCode, ServerError } from '../errors.js';
import type {
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../core/model-runtime.js';
import type { ModelSettings } from '../core/model-settings.js';
import type { DecodedRequest } from '../core/types.js';
import { checkOnnxFile, describeLoadError } from './onnx-load-error.js';
import { sessionOptions } from './onnx-session-options.js';
import type { OnnxTask, OnnxTaskResult } from './onnx-worker.js';
import { mayHaveZipMap, unzipMaps } from './onnx-zipmap.js';
import {
  fromPortable,
  openSession,
  runSession,
  sessionMetadata,
  toPortable,
  type PortableMetadata,
  type PortableTensor,
} from './onnx-tensors.js';
import { WorkerPool, type WorkerLease, type WorkerPoolStats } from './worker-pool.js';

/** File names looked for when `parameters.uri` names a folder. */
const WELL_KNOWN_FILES = ['model.onnx', 'model.ort'];

/** The worker module next to this one (.js when built, .ts under tsx). */
const WORKER_FILE = new URL(
  `./onnx-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
).href;

/** Options of the ONNX runtime. */
export interface OnnxRuntimeOptions {
  /** Worker threads per model instance; 0 runs sessions on the main thread. */
  readonly parallelWorkers: number;
}

/** The ONNX runtime, with a view of its worker threads. */
export interface OnnxRuntime extends ModelRuntime {
  /** Opens an ONNX file as a model instance (the scikit-learn runtime serves converted models). */
  openFile(file: string, settings: ModelSettings): Promise<ModelInstance>;
  /** Thread counters and the sessions open in idle threads (0 unless an unload leaked one). */
  workerStats(): Promise<WorkerPoolStats & { readonly idleSessions: number }>;
}

type OnnxPool = WorkerPool<OnnxTask, OnnxTaskResult>;

/** Creates the ONNX runtime. A model's own `parallel_workers` overrides the server default. */
export function createOnnxRuntime(options: OnnxRuntimeOptions): OnnxRuntime {
  let pool: OnnxPool | undefined;
  // Started on the first load that wants threads, so `parallel_workers: 0` starts none.
  const threads = (): OnnxPool =>
    (pool ??= new WorkerPool<OnnxTask, OnnxTaskResult>({
      filename: WORKER_FILE,
      // Enough for an unload/load of the default-sized model to find its thread again.
      maxIdleThreads: Math.max(options.parallelWorkers, availableParallelism()),
    }));
  const openFile = async (file: string, settings: ModelSettings): Promise<ModelInstance> => {
    await checkOnnxFile(file, settings.source);
    const workers = settings.parallelWorkers ?? options.parallelWorkers;
    const session = sessionOptions(settings, workers);
    const model = await readModel(file);
    // onnxruntime keeps the initialisers (the weights) in memory, so a session holds about
    // its file's bytes; each worker thread opens its own session.
    const memoryBytes = (await stat(file)).size * Math.max(1, workers);
    try {
      return workers === 0
        ? await InProcessInstance.create(model, session, memoryBytes)
        : await WorkerInstance.create(model, session, threads().lease(workers), memoryBytes);
    } catch (error) {
      throw describeLoadError(error, file, settings.source);
    }
  };
  return {
    name: 'onnx',
    aliases: ['tessera.onnx', 'mlserver_onnx.OnnxModel', 'onnxruntime'],
    // Triton's names for its ONNX Runtime backend (model_config.proto: platform onnxruntime_onnx).
    triton: { platform: 'onnxruntime_onnx', backend: 'onnxruntime' },
    async load(settings: ModelSettings): Promise<ModelInstance> {
      return openFile(await resolveModelFile(settings), settings);
    },
    openFile,
    async close(): Promise<void> {
      await pool?.close();
    },
    async workerStats() {
      const stats = pool?.stats() ?? { started: 0, idle: 0, leased: 0 };
      const counts = ((await pool?.runOnIdle({ kind: 'count' })) ?? []) as number[];
      return { ...stats, idleSessions: counts.reduce((a, b) => a + b, 0) };
    },
  };
}

async function resolveModelFile(settings: ModelSettings): Promise<string> {
  const info = await stat(settings.uri).catch(() => undefined);
  if (info?.isFile() === true) return settings.uri;
  if (info?.isDirectory() === true) {
    for (const name of WELL_KNOWN_FILES) {
      const candidate = join(settings.uri, name);
      if ((await stat(candidate).catch(() => undefined))?.isFile() === true) return candidate;
    }
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${settings.source}: no ${WELL_KNOWN_FILES.join(' or ')} found in the model folder; set parameters.uri`,
    );
  }
  throw new ServerError(
    ErrorCode.MODEL_LOAD_FAILED,
    `${settings.source}: parameters.uri: no such file`,
  );
}

/** Models up to this size are read to look for ZipMap outputs; larger ones go to onnxruntime by path. */
const REWRITE_MAX_BYTES = 64 * 1024 * 1024;

/** What a session is opened from: the file, or rewritten bytes, and the class labels found. */
interface ModelSource {
  readonly model: string | Uint8Array;
  readonly classLabels: Readonly<Record<string, readonly string[]>>;
}

/** The model as onnxruntime is to open it: ZipMap outputs rewritten to tensors (onnx-zipmap.ts). */
async function readModel(file: string): Promise<ModelSource> {
  const plain = { model: file, classLabels: {} };
  if ((await stat(file)).size > REWRITE_MAX_BYTES) return plain;
  const bytes = await readFile(file);
  if (!mayHaveZipMap(bytes)) return plain;
  try {
    const unzipped = unzipMaps(bytes);
    return unzipped === undefined
      ? plain
      : { model: unzipped.bytes, classLabels: unzipped.classLabels };
  } catch {
    // Not decodable as a model: onnxruntime reads the file and its error is translated.
    return plain;
  }
}

function instanceMetadata(meta: PortableMetadata, source: ModelSource): InstanceMetadata {
  const outputs = meta.outputs.map((output) => {
    const labels = source.classLabels[output.name];
    // The columns' classes, as a JSON array: the rewritten ZipMap said which column is which.
    return labels === undefined
      ? output
      : { ...output, parameters: { class_labels: JSON.stringify(labels) } };
  });
  return { platform: 'onnx_onnxv1', inputs: meta.inputs, outputs };
}

function outputNamesOf(
  metadata: InstanceMetadata,
  wanted: readonly string[] | undefined,
): readonly string[] {
  return wanted ?? metadata.outputs.map((o) => o.name);
}

/** A session on the main thread. */
class InProcessInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #session: ort.InferenceSession;

  private constructor(
    session: ort.InferenceSession,
    source: ModelSource,
    readonly memoryBytes: number,
  ) {
    this.#session = session;
    this.metadata = instanceMetadata(sessionMetadata(session), source);
  }

  static async create(
    source: ModelSource,
    options: ort.InferenceSession.SessionOptions,
    memoryBytes: number,
  ): Promise<InProcessInstance> {
    return new InProcessInstance(
      await openSession(source.model, options, ort),
      source,
      memoryBytes,
    );
  }

  async infer(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): Promise<RuntimeResult> {
    const names = outputNamesOf(this.metadata, options.outputNames);
    const outputs = await runSession(ort, this.#session, request.inputs.map(toPortable), names);
    return { outputs: outputs.map(fromPortable) };
  }

  async unload(): Promise<void> {
    await this.#session.release();
  }
}

/** Process-wide ids of worker sessions: a thread keys the sessions it hosts by them. */
let nextSessionId = 1;

/** Sessions in worker threads lent by the runtime's pool, one session per thread. */
class WorkerInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #lease: WorkerLease<OnnxTask, OnnxTaskResult>;
  readonly #session: number;
  #unloaded = false;

  private constructor(
    lease: WorkerLease<OnnxTask, OnnxTaskResult>,
    session: number,
    metadata: InstanceMetadata,
    readonly memoryBytes: number,
  ) {
    this.#lease = lease;
    this.#session = session;
    this.metadata = metadata;
  }

  /** Opens a session on every leased thread; on failure, closes them and gives the threads back. */
  static async create(
    source: ModelSource,
    options: ort.InferenceSession.SessionOptions,
    lease: WorkerLease<OnnxTask, OnnxTaskResult>,
    memoryBytes: number,
  ): Promise<WorkerInstance> {
    const session = nextSessionId++;
    try {
      const [metadata] = (await lease.runOnEach({
        kind: 'open',
        session,
        model: source.model,
        options,
      })) as PortableMetadata[];
      if (metadata === undefined) throw new Error('no worker thread was lent');
      return new WorkerInstance(lease, session, instanceMetadata(metadata, source), memoryBytes);
    } catch (error) {
      await closeAndRelease(lease, session);
      throw error;
    }
  }

  async infer(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): Promise<RuntimeResult> {
    if (this.#unloaded) {
      throw new ServerError(ErrorCode.MODEL_NOT_READY, 'the model instance was unloaded');
    }
    const names = outputNamesOf(this.metadata, options.outputNames);
    const feeds = request.inputs.map((t) => ownBuffer(toPortable(t)));
    const outputs = (await this.#lease.run({
      kind: 'run',
      session: this.#session,
      feeds,
      outputNames: names,
    })) as PortableTensor[];
    return { outputs: outputs.map(fromPortable) };
  }

  /**
   * Releases the session on every thread, then gives the threads back. Each thread runs its tasks
   * in order, so calls already sent finish before their session is released.
   */
  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    await closeAndRelease(this.#lease, this.#session);
  }
}

async function closeAndRelease(
  lease: WorkerLease<OnnxTask, OnnxTaskResult>,
  session: number,
): Promise<void> {
  try {
    await lease.runOnEach({ kind: 'close', session });
  } finally {
    await lease.release();
  }
}

/**
 * Structured clone copies a typed array's whole backing buffer, and request tensors are often views
 * into a larger body buffer: copy such views so only the tensor's own bytes cross the thread.
 */
function ownBuffer(tensor: PortableTensor): PortableTensor {
  const data = tensor.data;
  if (Array.isArray(data)) return tensor;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return tensor;
  return { ...tensor, data: data.slice() };
}
