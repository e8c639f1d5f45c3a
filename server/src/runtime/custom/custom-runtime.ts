/**
 * The runtime for custom runtimes: models whose `implementation` names a JavaScript module in
 * their folder or an installed package (runtime/custom/implementation.ts). The module's class runs
 * in the shared engine threads (runtime/engine-threads.ts), hosted by the runtime-agnostic engine
 * worker with custom-engine.ts as the engine module; those threads run several tasks at once,
 * because user code awaits (I/O, timers, streams) where tree and ONNX engines compute.
 * `parallel_workers: 0` runs it on the main thread. ADR 0011 records why.
 */
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../../errors.js';
import type {
  InferOptions,
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../../core/model-runtime.js';
import type { ModelSettings } from '../../core/model-settings.js';
import type { DecodedRequest, Tensor } from '../../core/types.js';
import type { RuntimeRequest } from '../../runtime-api.js';
import type { Engine } from '../engine.js';
import type { EngineThreads, WorkerEngine } from '../engine-threads.js';
import { openEngine } from '../engine-worker.js';
import type { CustomMetadata, CustomOpenArgs, CustomReply } from './custom-engine.js';
import { parseImplementation, resolveModuleFile, resolvePackage } from './implementation.js';

type CustomEngine = Engine<RuntimeRequest, CustomReply, CustomMetadata>;

/** A module next to this one (.js when built, .ts under tsx). */
function sibling(path: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${path}${ext}`, import.meta.url).href;
}

const ENGINE_MODULE = sibling('./custom-engine');

/** Creates the custom runtime; its instances borrow the shared engine threads. */
export function createCustomRuntime(options: {
  readonly parallelWorkers: number;
  readonly threads: EngineThreads;
}): ModelRuntime {
  return {
    name: 'custom',
    aliases: [],
    accepts: (implementation) => parseImplementation(implementation) !== undefined,
    async load(settings: ModelSettings): Promise<ModelInstance> {
      const args = await openArgs(settings);
      const workers = settings.parallelWorkers ?? options.parallelWorkers;
      const metadata = instanceMetadata(settings);
      try {
        return workers === 0
          ? new MainThreadInstance(
              metadata,
              (await openEngine(ENGINE_MODULE, args)) as CustomEngine,
            )
          : new WorkerInstance(
              metadata,
              await options.threads.open<CustomMetadata>(ENGINE_MODULE, args, workers, {
                // User code may compute without yielding: it never delays another model.
                exclusive: true,
              }),
            );
      } catch (error) {
        throw loadError(error, settings);
      }
    },
  };
}

async function openArgs(settings: ModelSettings): Promise<CustomOpenArgs> {
  const implementation = parseImplementation(settings.implementation);
  if (implementation === undefined) {
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${settings.source}: implementation: name the module, e.g. "./model.mjs" or "./model.mjs#MyRuntime"`,
    );
  }
  const module =
    implementation.kind === 'file'
      ? await resolveModuleFile(implementation.path, settings)
      : resolvePackage(implementation.specifier, settings.source);
  return {
    module,
    implementation: settings.implementation,
    ...(implementation.exportName === undefined ? {} : { exportName: implementation.exportName }),
    settings: {
      name: settings.name,
      ...(settings.version === undefined ? {} : { version: settings.version }),
      implementation: settings.implementation,
      platform: settings.platform,
      folder: settings.folder,
      uri: settings.uri,
      inputs: settings.inputs,
      outputs: settings.outputs,
      extra: settings.extra,
    },
  };
}

/** A load failure with the file named by model-settings.json and no paths. */
function loadError(error: unknown, settings: ModelSettings): ServerError {
  const text = redactPaths(getErrorMessage(error), [settings.folder]);
  const prefix = `${settings.source}: `;
  const message = text.startsWith(prefix) ? text : `${prefix}implementation: ${text}`;
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, message, { cause: error });
}

/** A custom model declares its tensors in model-settings.json; undeclared means "any". */
function instanceMetadata(settings: ModelSettings): InstanceMetadata {
  return {
    platform: settings.platform === '' ? 'custom' : settings.platform,
    inputs: settings.inputs,
    outputs: settings.outputs,
  };
}

/** The request a runtime gets; numeric inputs own their bytes (a clone copies a view's whole buffer). */
function runtimeRequest(request: DecodedRequest, copy: boolean): RuntimeRequest {
  if (!copy) return request;
  const inputs = request.inputs.map((t): Tensor => {
    const data = t.data;
    if (Array.isArray(data)) return t;
    const view = data as Exclude<Tensor['data'], readonly Uint8Array[]>;
    const owns = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
    return owns ? t : { ...t, data: view.slice() };
  });
  return { ...request, inputs };
}

function unwrap(reply: CustomReply): RuntimeResult {
  if (reply.ok) return reply.result;
  throw new ServerError(reply.code as ErrorCode, reply.message);
}

/** The runtime on the main thread (`parallel_workers: 0`). */
class MainThreadInstance implements ModelInstance {
  readonly inferStream?: ModelInstance['inferStream'];

  constructor(
    readonly metadata: InstanceMetadata,
    readonly engine: CustomEngine,
  ) {
    const stream = engine.stream?.bind(engine);
    if (engine.metadata.streams && stream !== undefined) {
      this.inferStream = (request) => stream(request) as AsyncIterator<RuntimeResult>;
    }
  }

  async infer(request: DecodedRequest): Promise<RuntimeResult> {
    return unwrap(await this.engine.run(request));
  }

  async unload(): Promise<void> {
    await this.engine.close?.();
  }
}

/** The runtime opened on every leased thread; requests go to the least busy one. */
class WorkerInstance implements ModelInstance {
  readonly inferStream?: ModelInstance['inferStream'];

  constructor(
    readonly metadata: InstanceMetadata,
    private readonly engine: WorkerEngine<CustomMetadata>,
  ) {
    if (engine.metadata[0]?.streams === true) {
      this.inferStream = (request) => engine.stream<RuntimeResult>(runtimeRequest(request, true));
    }
  }

  async infer(request: DecodedRequest, options: InferOptions = {}): Promise<RuntimeResult> {
    const { onComputed } = options;
    const reply = await this.engine.run(
      runtimeRequest(request, true),
      onComputed === undefined ? {} : { onComputed },
    );
    return unwrap(reply as CustomReply);
  }

  unload(): Promise<void> {
    return this.engine.close();
  }
}
