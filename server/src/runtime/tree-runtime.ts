/**
 * A runtime for tree models evaluated in TypeScript (XGBoost, LightGBM). The framework-specific
 * part is an engine module (runtime/xgboost/xgboost-engine.ts, runtime/lightgbm/lightgbm-engine.ts)
 * that reads the file and evaluates batches; this file resolves the artefact, refuses files of
 * another kind with a message naming what they are, and runs the engine in worker threads
 * borrowed from the shared engine threads (runtime/engine-threads.ts), so evaluation never blocks
 * the event loop. `parallel_workers: 0` opens the engine on the main thread.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../errors.js';
import type {
  InferOptions,
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../core/model-runtime.js';
import type { ModelSettings } from '../core/model-settings.js';
import type { DecodedRequest, Tensor } from '../core/types.js';
import type { Engine } from './engine.js';
import type { EngineThreads, WorkerEngine } from './engine-threads.js';
import { openEngine } from './engine-worker.js';
import { FILE_TYPES, detectModelFile, type ModelFileType } from './model-file-type.js';
import {
  PREDICT,
  type TreeMetadata,
  type TreeOpenArgs,
  type TreeRequest,
  type TreeTensor,
} from './trees/tree-engine.js';

/** What distinguishes one tree runtime from another. */
export interface TreeRuntimeSpec {
  readonly name: string;
  readonly aliases: readonly string[];
  /** The framework's name in messages, e.g. `XGBoost`. */
  readonly framework: string;
  /** V2 `platform` of its models. */
  readonly platform: string;
  /** URL of the engine module. */
  readonly engineModule: string;
  /** File names looked for when `parameters.uri` names a folder, in order. */
  readonly wellKnownFiles: readonly string[];
  /** The file kinds its engine reads. */
  readonly reads: readonly ModelFileType[];
  /** How to produce a readable file, for refusals of pickles. */
  readonly saveHint: string;
}

/** Creates a tree runtime whose instances borrow the shared engine threads. */
export function createTreeRuntime(
  spec: TreeRuntimeSpec,
  options: { readonly parallelWorkers: number; readonly threads: EngineThreads },
): ModelRuntime {
  return {
    name: spec.name,
    aliases: spec.aliases,
    async load(settings: ModelSettings): Promise<ModelInstance> {
      const file = await resolveModelFile(settings, spec.wellKnownFiles);
      await checkFileKind(spec, file, settings.source);
      const args: TreeOpenArgs = { file, extra: settings.extra };
      const workers = settings.parallelWorkers ?? options.parallelWorkers;
      try {
        return workers === 0
          ? await MainThreadInstance.create(spec, args)
          : await WorkerInstance.create(spec, args, options.threads, workers);
      } catch (error) {
        throw describeOpenError(error, file, settings.source);
      }
    },
  };
}

async function resolveModelFile(
  settings: ModelSettings,
  names: readonly string[],
): Promise<string> {
  const info = await stat(settings.uri).catch(() => undefined);
  if (info?.isFile() === true) return settings.uri;
  if (info?.isDirectory() === true) {
    for (const name of names) {
      const candidate = join(settings.uri, name);
      if ((await stat(candidate).catch(() => undefined))?.isFile() === true) return candidate;
    }
    throw loadFailed(
      settings.source,
      `no ${names.join(', ')} found in the model folder; set parameters.uri`,
    );
  }
  throw loadFailed(settings.source, 'parameters.uri: no such file');
}

function loadFailed(source: string, message: string): ServerError {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${source}: ${message}`);
}

/** Refuses a file of a kind the engine does not read, naming the kind and who reads it. */
async function checkFileKind(spec: TreeRuntimeSpec, file: string, source: string): Promise<void> {
  const name = basename(file);
  let kind: ModelFileType;
  try {
    kind = await detectModelFile(file);
  } catch {
    throw loadFailed(source, `${name} cannot be read (check its permissions)`);
  }
  // An unknown head may still be a legacy XGBoost binary: the engine says how to re-save it.
  if (spec.reads.includes(kind) || (kind === 'unknown' && spec.name === 'xgboost')) return;
  const { label, readBy } = FILE_TYPES[kind];
  const reader =
    readBy !== undefined
      ? `; it is read by the '${readBy}' implementation`
      : kind === 'pickle'
        ? `; pickles cannot be read without Python: ${spec.saveHint}`
        : '';
  throw loadFailed(
    source,
    `${name} is ${label}, which the '${spec.name}' implementation (${spec.framework}) does not read${reader}`,
  );
}

function describeOpenError(error: unknown, file: string, source: string): ServerError {
  if (error instanceof ServerError) return error;
  const text = redactPaths(getErrorMessage(error), [file, dirname(file)]);
  return loadFailed(source, text.startsWith(basename(file)) ? text : `${basename(file)}: ${text}`);
}

function instanceMetadata(spec: TreeRuntimeSpec, meta: TreeMetadata): InstanceMetadata {
  return {
    platform: spec.platform,
    inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, meta.features] }],
    outputs: meta.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: [...o.shape] })),
    // runtime_path: which way the folder is served, as the Python worker's models say 'python'.
    parameters: { description: meta.description, runtime_path: 'native' },
    mlserverInputs: true,
    defaultContentType: 'np',
    unavailableOutputs: meta.unavailableOutputs,
  };
}

/** The batch an inference sends to the engine, with the features in their own buffer. */
function treeRequest(
  request: DecodedRequest,
  outputNames: readonly string[] | undefined,
): TreeRequest {
  const [input] = request.inputs;
  if (!(input?.data instanceof Float32Array)) {
    throw new ServerError(ErrorCode.INVALID_INPUT, 'the model takes one FP32 input');
  }
  const data = input.data;
  // Structured clone copies a view's whole backing buffer: send only the tensor's bytes.
  const own =
    data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
  return { data: own, rows: input.shape[0] ?? 0, outputs: outputNames ?? [PREDICT] };
}

function toResult(tensors: readonly TreeTensor[]): RuntimeResult {
  return { outputs: tensors.map((t): Tensor => ({ ...t, shape: [...t.shape] })) };
}

/** An engine on the main thread (`parallel_workers: 0`). */
class MainThreadInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly memoryBytes: number;
  readonly #engine: Engine<TreeRequest, TreeTensor[], TreeMetadata>;

  private constructor(
    spec: TreeRuntimeSpec,
    engine: Engine<TreeRequest, TreeTensor[], TreeMetadata>,
  ) {
    this.#engine = engine;
    this.metadata = instanceMetadata(spec, engine.metadata);
    this.memoryBytes = engine.metadata.memoryBytes;
  }

  static async create(spec: TreeRuntimeSpec, args: TreeOpenArgs): Promise<MainThreadInstance> {
    const engine = (await openEngine(spec.engineModule, args)) as Engine<
      TreeRequest,
      TreeTensor[],
      TreeMetadata
    >;
    return new MainThreadInstance(spec, engine);
  }

  async infer(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): Promise<RuntimeResult> {
    return toResult(await this.#engine.run(treeRequest(request, options.outputNames)));
  }

  async unload(): Promise<void> {
    await this.#engine.close?.();
  }
}

/** An engine opened on every leased thread; requests go to the least busy one. */
class WorkerInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  /** Every leased thread compiled its own copy of the trees: the sum of their arrays. */
  readonly memoryBytes: number;
  readonly #engine: WorkerEngine<TreeMetadata>;

  private constructor(spec: TreeRuntimeSpec, engine: WorkerEngine<TreeMetadata>) {
    const [meta] = engine.metadata;
    if (meta === undefined) throw new Error('no worker thread was lent');
    this.#engine = engine;
    this.metadata = instanceMetadata(spec, meta);
    this.memoryBytes = engine.metadata.reduce((sum, m) => sum + m.memoryBytes, 0);
  }

  static async create(
    spec: TreeRuntimeSpec,
    args: TreeOpenArgs,
    threads: EngineThreads,
    count: number,
  ): Promise<WorkerInstance> {
    return new WorkerInstance(
      spec,
      await threads.open<TreeMetadata>(spec.engineModule, args, count),
    );
  }

  async infer(request: DecodedRequest, options: InferOptions): Promise<RuntimeResult> {
    const batch = treeRequest(request, options.outputNames);
    const { onComputed } = options;
    return toResult(
      (await this.#engine.run(
        batch,
        onComputed === undefined ? {} : { onComputed },
      )) as TreeTensor[],
    );
  }

  /** Closes the engine on every thread (after the calls sent before), then gives them back. */
  unload(): Promise<void> {
    return this.#engine.close();
  }
}
