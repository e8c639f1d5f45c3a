/**
 * ONNX models through onnxruntime-node. Metadata (names, datatypes, shapes) comes from the model
 * itself, so a model-settings.json needs no `inputs`.
 *
 * A session is an engine (runtime/onnx-engine.ts). By default each model instance opens it on
 * `parallel_workers` threads borrowed from the shared engine threads (runtime/engine-threads.ts),
 * one session per thread: onnxruntime-node executes `run` on the calling thread, and on the event
 * loop a slow model would stall every other request and the health probes. The threads outlive
 * instances, so loading and unloading models does not start and stop threads.
 * `parallel_workers: 0` opens the session on the main thread, which saves a thread hop (tens of
 * microseconds) for tiny models.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, ServerError } from '../errors.js';
import type {
  InferOptions,
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../core/model-runtime.js';
import type { ModelSettings } from '../core/model-settings.js';
import type { DecodedRequest } from '../core/types.js';
import { openEngine } from './engine-worker.js';
import type { EngineThreads } from './engine-threads.js';
import { checkOnnxFile, describeLoadError } from './onnx-load-error.js';
import type { OnnxEngine, OnnxOpenArgs, OnnxRequest } from './onnx-engine.js';
import { sessionOptions } from './onnx-session-options.js';
import { mayHaveZipMap, unzipMaps } from './onnx-zipmap.js';
import {
  fromPortable,
  toPortable,
  type PortableMetadata,
  type PortableTensor,
} from './onnx-tensors.js';

/** File names looked for when `parameters.uri` names a folder. */
const WELL_KNOWN_FILES = ['model.onnx', 'model.ort'];

/** The engine module next to this one (.js when built, .ts under tsx). */
const ENGINE_MODULE = new URL(
  `./onnx-engine${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
).href;

/** Options of the ONNX runtime. */
export interface OnnxRuntimeOptions {
  /** Worker threads per model instance; 0 runs sessions on the main thread. */
  readonly parallelWorkers: number;
  /** The shared engine threads instances borrow from. */
  readonly threads: EngineThreads;
}

/** The ONNX runtime; the scikit-learn runtime opens its converted models through it. */
export interface OnnxRuntime extends ModelRuntime {
  /** Opens an ONNX file as a model instance. */
  openFile(file: string, settings: ModelSettings): Promise<ModelInstance>;
}

/** Creates the ONNX runtime. A model's own `parallel_workers` overrides the server default. */
export function createOnnxRuntime(options: OnnxRuntimeOptions): OnnxRuntime {
  const openFile = async (file: string, settings: ModelSettings): Promise<ModelInstance> => {
    await checkOnnxFile(file, settings.source);
    const workers = settings.parallelWorkers ?? options.parallelWorkers;
    const source = await readModel(file);
    const args: OnnxOpenArgs = { model: source.model, options: sessionOptions(settings, workers) };
    // onnxruntime keeps the initialisers (the weights) in memory, so a session holds about
    // its file's bytes; each worker thread opens its own session.
    const memoryBytes = (await stat(file)).size * Math.max(1, workers);
    try {
      if (workers === 0) {
        const engine = (await openEngine(ENGINE_MODULE, args)) as OnnxEngine;
        return new OnnxInstance(engine.metadata, source, memoryBytes, {
          run: async (request) => engine.run(request),
          close: async () => engine.close?.(),
          copyViews: false,
        });
      }
      const engine = await options.threads.open<PortableMetadata>(ENGINE_MODULE, args, workers);
      const [meta] = engine.metadata;
      if (meta === undefined) throw new Error('no worker thread was lent');
      return new OnnxInstance(meta, source, memoryBytes, {
        run: async (request, onComputed) =>
          (await engine.run(
            request,
            onComputed === undefined ? {} : { onComputed },
          )) as PortableTensor[],
        close: () => engine.close(),
        copyViews: true,
      });
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

/** Where an instance's session runs: on the main thread or on its leased threads. */
interface SessionRunner {
  /** `onComputed` is told the compute time of a run on a thread (ModelInstance.infer). */
  run(request: OnnxRequest, onComputed?: (computeMs: number) => void): Promise<PortableTensor[]>;
  /** Releases the session(s), after the runs already sent; idempotent on threads. */
  close(): Promise<void>;
  /** Whether request tensors cross a thread, so views must own their bytes. */
  readonly copyViews: boolean;
}

/** An ONNX model instance. */
class OnnxInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #runner: SessionRunner;

  constructor(
    meta: PortableMetadata,
    source: ModelSource,
    readonly memoryBytes: number,
    runner: SessionRunner,
  ) {
    this.metadata = instanceMetadata(meta, source);
    this.#runner = runner;
  }

  async infer(request: DecodedRequest, options: InferOptions): Promise<RuntimeResult> {
    const outputNames = options.outputNames ?? this.metadata.outputs.map((o) => o.name);
    const portable = request.inputs.map(toPortable);
    const feeds = this.#runner.copyViews ? portable.map(ownBuffer) : portable;
    const outputs = await this.#runner.run({ feeds, outputNames }, options.onComputed);
    return { outputs: outputs.map(fromPortable) };
  }

  /** Releases the session; on threads, calls already sent finish first (engine-worker.ts). */
  unload(): Promise<void> {
    return this.#runner.close();
  }
}

/**
 * Structured clone copies a typed array's whole backing buffer, and request tensors are often views
 * into a larger body buffer: copy such views so only the tensor's own bytes cross the thread. A
 * view that is most of its buffer (the one tensor of a binary-extension body) crosses as it is:
 * cloning the few extra bytes is cheaper than a copy of the tensor first.
 */
function ownBuffer(tensor: PortableTensor): PortableTensor {
  const data = tensor.data;
  if (Array.isArray(data)) return tensor;
  if (data.byteLength * 2 >= data.buffer.byteLength) return tensor;
  return { ...tensor, data: data.slice() };
}
