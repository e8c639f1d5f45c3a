/**
 * The runtime for custom runtimes: models whose `implementation` names a JavaScript module in
 * their folder or an installed package (runtime/custom/implementation.ts). The module's class runs
 * in worker threads of a pool of its own, hosted by the runtime-agnostic engine worker with
 * custom-engine.ts as the engine module; its threads run several tasks at once, because user code
 * awaits (I/O, timers, streams) where tree engines compute. `parallel_workers: 0` runs it on the
 * main thread. ADR 0011 records why.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../../errors.js';
import type {
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../../core/model-runtime.js';
import type { ModelSettings } from '../../core/model-settings.js';
import type { DecodedRequest, Tensor } from '../../core/types.js';
import type { RuntimeRequest } from '../../runtime-api.js';
import type { Engine } from '../engine.js';
import { openEngine, type EngineTask, type EngineTaskResult } from '../engine-worker.js';
import { portIterator } from '../port-iterator.js';
import { WorkerPool, type WorkerLease } from '../worker-pool.js';
import type { CustomMetadata, CustomOpenArgs, CustomReply } from './custom-engine.js';
import { parseImplementation, resolveModuleFile, resolvePackage } from './implementation.js';

/** Tasks (requests and open streams) one thread runs at once for custom runtimes. */
export const CUSTOM_TASKS_PER_THREAD = 64;

type CustomEngine = Engine<RuntimeRequest, CustomReply, CustomMetadata>;
type Lease = WorkerLease<EngineTask, EngineTaskResult>;

/** A module next to this one (.js when built, .ts under tsx). */
function sibling(path: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${path}${ext}`, import.meta.url).href;
}

const ENGINE_MODULE = sibling('./custom-engine');

/** Creates the custom runtime; its threads start on the first threaded load. */
export function createCustomRuntime(options: { readonly parallelWorkers: number }): ModelRuntime {
  let pool: WorkerPool<EngineTask, EngineTaskResult> | undefined;
  const threads = (): WorkerPool<EngineTask, EngineTaskResult> =>
    (pool ??= new WorkerPool({
      filename: sibling('../engine-worker'),
      maxIdleThreads: Math.max(options.parallelWorkers, availableParallelism()),
      concurrentTasksPerWorker: CUSTOM_TASKS_PER_THREAD,
    }));
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
          : await WorkerInstance.create(metadata, args, threads().lease(workers));
      } catch (error) {
        throw loadError(error, settings);
      }
    },
    async close(): Promise<void> {
      await pool?.close();
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

/** Process-wide engine ids: a thread keys the engines it hosts by them. */
let nextEngineId = 1;

/** The runtime opened on every leased thread; requests go to the least busy one. */
class WorkerInstance implements ModelInstance {
  readonly inferStream?: ModelInstance['inferStream'];
  #unloaded = false;

  private constructor(
    readonly metadata: InstanceMetadata,
    private readonly lease: Lease,
    private readonly engine: number,
    streams: boolean,
  ) {
    if (streams) this.inferStream = (request) => this.#stream(request);
  }

  static async create(
    metadata: InstanceMetadata,
    args: CustomOpenArgs,
    lease: Lease,
  ): Promise<WorkerInstance> {
    const engine = nextEngineId++;
    try {
      const opened = (await lease.runOnEach({
        kind: 'open',
        engine,
        module: ENGINE_MODULE,
        args,
      })) as CustomMetadata[];
      const [first] = opened;
      if (first === undefined) throw new Error('no worker thread was lent');
      return new WorkerInstance(metadata, lease, engine, first.streams);
    } catch (error) {
      await lease.runOnEach({ kind: 'close', engine }).catch(() => undefined);
      await lease.release();
      throw error;
    }
  }

  #check(): void {
    if (this.#unloaded) {
      throw new ServerError(ErrorCode.MODEL_NOT_READY, 'the model instance was unloaded');
    }
  }

  async infer(request: DecodedRequest): Promise<RuntimeResult> {
    this.#check();
    const reply = await this.lease.run({
      kind: 'run',
      engine: this.engine,
      request: runtimeRequest(request, true),
    });
    return unwrap(reply as CustomReply);
  }

  #stream(request: DecodedRequest): AsyncIterator<RuntimeResult> {
    this.#check();
    const { port1, port2 } = new MessageChannel();
    const task = this.lease.run(
      { kind: 'stream', engine: this.engine, request: runtimeRequest(request, true), port: port2 },
      [port2],
    );
    return portIterator<RuntimeResult>(port1, task);
  }

  async unload(): Promise<void> {
    if (this.#unloaded) return;
    this.#unloaded = true;
    try {
      await this.lease.runOnEach({ kind: 'close', engine: this.engine });
    } finally {
      await this.lease.release();
    }
  }
}
