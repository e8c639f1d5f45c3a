/**
 * MLServer runtimes served by a Python worker (docs/python-runtimes.md, ADR 0015). An
 * `implementation` naming a Python class (`package.module.Class`, `models.MyModel` in the model
 * folder) that no native runtime serves comes here; so does any model whose settings say
 * `parameters.serve_with: "python"` (e.g. `mlserver_sklearn.SKLearnModel` with a pickle, which
 * the native runtime would refuse). Inputs are handed over as they arrived, so the Python class
 * decodes them with MLServer's own codecs.
 */
import { basename, isAbsolute, join } from 'node:path';
import type {
  CustomRequest,
  CustomResponse,
  CustomRoute,
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../../core/model-runtime.js';
import type { ModelSettings } from '../../core/model-settings.js';
import type { Logger } from '../../core/ports.js';
import { decodeRaw } from '../../core/tensor-decode.js';
import { toRawBytes } from '../../core/tensor-encode.js';
import type { DecodedRequest, Parameters, Tensor, TensorMetadata } from '../../core/types.js';
import { isDatatype } from '../../core/datatype.js';
import { ErrorCode, ServerError } from '../../errors.js';
import type { Environments } from './environments.js';
import { type CustomMetricSink, type ModelLabels, parseMetricHead } from './metric-frames.js';
import { PythonWorkerGroup } from './python-worker-group.js';
import type { Frame } from './wire.js';

export interface PythonRuntimeOptions {
  /** The server's Python (`python_executable`); undefined when none is configured. */
  readonly pythonExecutable: string | undefined;
  /** The server-wide environment tarball (`env_tarball`, MLSERVER_ENV_TARBALL), absolute. */
  readonly envTarball?: string | undefined;
  /** Unpacks environment tarballs; undefined: environment_tarball is refused. */
  readonly environments?: Environments | undefined;
  readonly maxInFlight: number;
  /** Worker processes per environment (the server's `parallel_workers`, at least 1). */
  readonly processes?: number;
  /** Where custom metrics (`mlserver.register` / `mlserver.log`) go; undefined: dropped. */
  readonly customMetrics?: CustomMetricSink | undefined;
  readonly logger: Logger;
}

/** `a.b.Class`: a dotted Python path whose last part is a class name. */
const PYTHON_CLASS = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\.[A-Z][A-Za-z0-9_]*$/;

/** Whether `implementation` names a Python class. */
export function isPythonClass(implementation: string): boolean {
  return PYTHON_CLASS.test(implementation);
}

function loadFailed(source: string, message: string): ServerError {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${source}: ${message}`);
}

/** A model's interpreter, and what to give back when the model unloads (an environment's use). */
export interface ModelPython {
  readonly python: string;
  readonly release: () => Promise<void>;
}

const NOTHING_TO_RELEASE = (): Promise<void> => Promise.resolve();

/** The Python of the model's (or the server's) environment tarball, unpacked; undefined: none. */
async function tarballPython(
  settings: ModelSettings,
  options: Pick<PythonRuntimeOptions, 'envTarball' | 'environments'>,
): Promise<ModelPython | undefined> {
  const tarball = settings.parameters['environment_tarball'];
  const own = typeof tarball === 'string' && tarball !== '';
  const path = own
    ? isAbsolute(tarball)
      ? tarball
      : join(settings.folder, tarball)
    : options.envTarball;
  if (path === undefined) return undefined;
  const shownAs = own ? tarball : `${basename(path)} (MLSERVER_ENV_TARBALL)`;
  if (options.environments === undefined) {
    throw loadFailed(settings.source, 'environment tarballs are not enabled in this server');
  }
  try {
    const lease = await options.environments.acquire(path, shownAs);
    return { python: join(lease.folder, 'bin', 'python'), release: () => lease.release() };
  } catch (error) {
    if (error instanceof ServerError) throw loadFailed(settings.source, error.message);
    throw error;
  }
}

/**
 * The interpreter for one model, first match wins: `parameters.environment_path` (an unpacked
 * environment), `parameters.environment_tarball` (unpacked once, docs/python-runtimes.md), the
 * server's `env_tarball` (MLSERVER_ENV_TARBALL), then `python_executable`.
 */
export async function pythonFor(
  settings: ModelSettings,
  options: Pick<PythonRuntimeOptions, 'pythonExecutable' | 'envTarball' | 'environments'>,
): Promise<ModelPython> {
  const env = settings.parameters['environment_path'];
  if (typeof env === 'string' && env !== '') {
    const root = isAbsolute(env) ? env : join(settings.folder, env);
    return { python: join(root, 'bin', 'python'), release: NOTHING_TO_RELEASE };
  }
  const tarball = await tarballPython(settings, options);
  if (tarball !== undefined) return tarball;
  if (options.pythonExecutable === undefined) {
    throw loadFailed(
      settings.source,
      `implementation '${settings.implementation}' is a Python class and no Python is configured: set python_executable in settings.json (or TESSERA_PYTHON_EXECUTABLE) to a Python with mlserver installed, or parameters.environment_path to such a virtualenv (parameters.environment_tarball to a packed one)`,
    );
  }
  return { python: options.pythonExecutable, release: NOTHING_TO_RELEASE };
}

/** The raw settings the worker builds MLServer's ModelSettings from. */
function workerSettings(settings: ModelSettings): Record<string, unknown> {
  const parameters: Record<string, unknown> = { ...settings.parameters, uri: settings.uri };
  if (settings.version !== undefined) parameters['version'] = settings.version;
  return {
    name: settings.name,
    implementation: settings.implementation,
    platform: settings.platform,
    inputs: settings.inputs,
    outputs: settings.outputs,
    parameters,
  };
}

/** A JSON object from the worker as parameters, or undefined (absent, empty, not an object). */
function toParameters(value: unknown): Parameters | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return Object.keys(value).length > 0 ? (value as Parameters) : undefined;
}

/** The worker's tensor metadata, with their parameters (MLflow's content types). */
function toMetadata(items: unknown): TensorMetadata[] {
  if (!Array.isArray(items)) return [];
  return items.flatMap(
    (item: { name?: unknown; datatype?: unknown; shape?: unknown; parameters?: unknown }) => {
      if (
        typeof item.name !== 'string' ||
        typeof item.datatype !== 'string' ||
        !isDatatype(item.datatype) ||
        !Array.isArray(item.shape)
      ) {
        return [];
      }
      const parameters = toParameters(item.parameters);
      const shape = item.shape as number[];
      return [
        { name: item.name, datatype: item.datatype, shape, ...(parameters && { parameters }) },
      ];
    },
  );
}

/** The methods a custom REST handler may have (MLServer's `rest_method`; HTTP's own). */
const CUSTOM_METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
/** Bounds on what a model may mount: each route is a label of the REST metrics. */
const MAX_CUSTOM_ROUTES = 32;
const MAX_CUSTOM_PATH = 256;
const CUSTOM_PATH = /^\/[\x21-\x7e]*$/;

/**
 * The custom REST handlers the worker mounted for a model (MLServer's `@custom_handler`), those
 * the server can route: a known method and a printable path from the root, at most
 * {@link MAX_CUSTOM_ROUTES}. The others are named in the log and not served.
 */
export function toCustomRoutes(
  items: unknown,
  onRefused: (route: unknown, why: string) => void,
): CustomRoute[] {
  if (!Array.isArray(items)) return [];
  const routes: CustomRoute[] = [];
  for (const item of items as { method?: unknown; path?: unknown }[]) {
    const { method, path } = item;
    if (typeof method !== 'string' || !CUSTOM_METHODS.has(method)) {
      onRefused(item, `rest_method must be one of ${[...CUSTOM_METHODS].join(', ')}`);
    } else if (
      typeof path !== 'string' ||
      path.length > MAX_CUSTOM_PATH ||
      !CUSTOM_PATH.test(path)
    ) {
      onRefused(
        item,
        `rest_path must start with / and have at most ${String(MAX_CUSTOM_PATH)} printable characters`,
      );
    } else if (routes.length >= MAX_CUSTOM_ROUTES) {
      onRefused(item, `a model may mount at most ${String(MAX_CUSTOM_ROUTES)} custom handlers`);
    } else {
      routes.push({ method, path });
    }
  }
  return routes;
}

/**
 * Hands a worker's METRIC frame to the sink, labelled with the model it ran in (the worker names
 * the model key; a key this server did not give out is ignored, as is a malformed head).
 */
function metricHandler(
  sink: CustomMetricSink | undefined,
  models: ReadonlyMap<string, ModelLabels>,
): (head: unknown) => void {
  return (raw) => {
    const head = parseMetricHead(raw);
    if (sink === undefined || head === undefined) return;
    const model = head.key === null ? { name: '', version: '' } : models.get(head.key);
    if (model === undefined) return;
    if (head.op === 'register') sink.register(model, head.name, head.description);
    else sink.observe(model, head.name, head.value);
  };
}

/** Creates the Python runtime; workers are kept per interpreter and started on first load. */
export function createPythonRuntime(options: PythonRuntimeOptions): ModelRuntime {
  const workers = new Map<string, PythonWorkerGroup>();
  /** Each loaded model's labels by its key, for the custom metrics its worker reports. */
  const models = new Map<string, ModelLabels>();
  const onMetric = metricHandler(options.customMetrics, models);
  let nextKey = 1;
  return {
    name: 'python',
    aliases: [],
    accepts: isPythonClass,
    async load(settings: ModelSettings): Promise<ModelInstance> {
      const { python, release } = await pythonFor(settings, options);
      let worker = workers.get(python);
      if (worker === undefined) {
        worker = new PythonWorkerGroup({
          python,
          logger: options.logger,
          maxInFlight: options.maxInFlight,
          processes: options.processes ?? 1,
          onMetric,
        });
        workers.set(python, worker);
      }
      const key = `${settings.name}:${settings.version ?? ''}:${String(nextKey++)}`;
      // MLServer labels a model's custom metrics with its name and version ("" when none).
      models.set(key, { name: settings.name, version: settings.version ?? '' });
      let reply: {
        platform?: unknown;
        inputs?: unknown;
        outputs?: unknown;
        streams?: unknown;
        parameters?: unknown;
        handlers?: unknown;
      };
      try {
        reply = (await worker.load(key, {
          settings: workerSettings(settings),
          source: join(settings.folder, 'model-settings.json'),
        })) as typeof reply;
      } catch (error) {
        models.delete(key);
        // Processes left with no model (a failed first load) stop, so none runs from an
        // environment that is no longer held.
        if (worker.idle) await worker.stop();
        if (!worker.running) workers.delete(python);
        await release();
        if (error instanceof ServerError) throw loadFailed(settings.source, error.message);
        throw error;
      }
      options.logger.info(
        {
          model: settings.name,
          implementation: settings.implementation,
          runtime_path: 'python',
          pids: worker.pids,
          mlserver: worker.hello.mlserver,
        },
        'model served by the Python worker',
      );
      const customRoutes = toCustomRoutes(reply.handlers, (route, why) => {
        options.logger.warn(
          { model: settings.name, route },
          `a custom REST handler of the model is not served: ${why}`,
        );
      });
      if (customRoutes.length > 0) {
        // MLServer mounts them at the server root; the server's own routes win (custom-handlers.ts).
        options.logger.info(
          { model: settings.name, routes: customRoutes.map((r) => `${r.method} ${r.path}`) },
          'custom REST handlers mounted',
        );
      }
      const declaredIn = settings.inputs.length > 0 ? settings.inputs : toMetadata(reply.inputs);
      const declaredOut =
        settings.outputs.length > 0 ? settings.outputs : toMetadata(reply.outputs);
      const metadata: InstanceMetadata = {
        platform: typeof reply.platform === 'string' ? reply.platform : settings.platform,
        inputs: declaredIn,
        outputs: declaredOut,
        // MLServer's codecs (custom ones included) run in the worker, as in MLServer.
        appliesContentTypes: true,
        parameters: {
          // The model's own metadata parameters first (MLflowRuntime's content_type), as MLServer
          // answers them; then where Tessera serves it from.
          ...toParameters(reply.parameters),
          runtime_path: 'python',
          python_class: settings.implementation,
          mlserver_version: worker.hello.mlserver ?? '',
        },
      };
      const shape = { metadata, streams: reply.streams === true, customRoutes };
      return new PythonInstance(worker, key, shape, async () => {
        models.delete(key);
        if (!worker.running) workers.delete(python);
        // After the worker let go of it: only then may the environment's folder be removed.
        await release();
      });
    },
    async close(): Promise<void> {
      await Promise.all([...workers.values()].map((w) => w.stop()));
      workers.clear();
    },
  };
}

class PythonInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #worker: PythonWorkerGroup;
  readonly #key: string;
  readonly #onUnload: () => Promise<void>;
  /** Present when the model's class has its own `predict_stream` (Triton's decoupled models). */
  readonly inferStream?: (
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ) => AsyncIterator<RuntimeResult>;

  readonly customRoutes: readonly CustomRoute[];

  constructor(
    worker: PythonWorkerGroup,
    key: string,
    shape: {
      readonly metadata: InstanceMetadata;
      /** Whether the class has its own `predict_stream`. */
      readonly streams: boolean;
      readonly customRoutes: readonly CustomRoute[];
    },
    onUnload: () => Promise<void>,
  ) {
    this.#worker = worker;
    this.#key = key;
    this.metadata = shape.metadata;
    this.customRoutes = shape.customRoutes;
    this.#onUnload = onUnload;
    if (shape.streams) this.inferStream = (request, options) => this.#stream(request, options);
  }

  /** A request for one of the model's custom REST handlers, answered by its FastAPI route. */
  async handleCustom(request: CustomRequest, signal?: AbortSignal): Promise<CustomResponse> {
    const head = {
      key: this.#key,
      method: request.method,
      path: request.path,
      query: request.query,
      headers: request.headers,
    };
    const frame = await this.#worker.http(this.#key, head, [request.body], signal);
    return toCustomResponse(frame);
  }

  async infer(
    request: DecodedRequest,
    options: {
      outputNames?: readonly string[];
      signal?: AbortSignal;
      onComputed?: (computeMs: number) => void;
    },
  ): Promise<RuntimeResult> {
    const [head, body] = this.#frame(request, options.outputNames);
    const frame = await this.#worker.infer(this.#key, head, body, options.signal);
    // The worker times its model's predict; the rest of the call is queue in the statistics.
    const computeMs = (frame.head as { compute_ms?: unknown }).compute_ms;
    if (typeof computeMs === 'number' && Number.isFinite(computeMs) && computeMs >= 0) {
      options.onComputed?.(computeMs);
    }
    return toResult(frame);
  }

  /** MLServer's `predict_stream`, one request in, each response as the worker sends it. */
  async *#stream(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): AsyncGenerator<RuntimeResult, void, undefined> {
    const [head, body] = this.#frame(request, options.outputNames);
    for await (const frame of this.#worker.stream(this.#key, head, body)) yield toResult(frame);
  }

  /** The worker's request head (tensor layout) and body (raw tensor bytes). */
  #frame(request: DecodedRequest, outputNames?: readonly string[]): [unknown, Uint8Array[]] {
    const body: Uint8Array[] = [];
    let offset = 0;
    const inputs = request.inputs.map((tensor: Tensor) => {
      const raw = toRawBytes(tensor);
      body.push(raw);
      const head = {
        name: tensor.name,
        datatype: tensor.datatype,
        shape: tensor.shape,
        offset,
        length: raw.byteLength,
        parameters: tensor.parameters,
      };
      offset += raw.byteLength;
      return head;
    });
    const head = {
      key: this.#key,
      id: request.id,
      parameters: request.parameters,
      inputs,
      outputs: outputNames,
    };
    return [head, body];
  }

  async unload(): Promise<void> {
    await this.#worker.unload(this.#key);
    await this.#onUnload();
  }

  unavailable(): string | undefined {
    const down = this.#worker.unavailable(this.#key);
    return down === undefined ? undefined : `the Python worker is restarting: ${down}`;
  }
}

/** A worker's reply to an HTTP frame: the handler's status, headers and body. */
function toCustomResponse(frame: Frame): CustomResponse {
  const { status, headers } = frame.head as { status?: unknown; headers?: unknown };
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new ServerError(
      ErrorCode.INFERENCE_FAILED,
      `the custom handler answered with an invalid status (${String(status)})`,
    );
  }
  const pairs = Array.isArray(headers) ? (headers as unknown[]) : [];
  return {
    status,
    headers: pairs.flatMap((pair) =>
      Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string'
        ? [[pair[0], pair[1]] as const]
        : [],
    ),
    body: frame.body,
  };
}

/** A worker's reply frame as the runtime's result: outputs decoded from their raw bytes. */
function toResult(frame: Frame): RuntimeResult {
  const reply = frame.head as {
    outputs: {
      name: string;
      datatype: string;
      shape: number[];
      offset: number;
      length: number;
      parameters?: Parameters;
    }[];
    parameters?: Parameters | null;
  };
  const outputs: Tensor[] = reply.outputs.map((o) => {
    if (!isDatatype(o.datatype)) {
      throw new ServerError(
        ErrorCode.INFERENCE_FAILED,
        `output '${o.name}': unknown datatype '${o.datatype}'`,
      );
    }
    const count = o.shape.reduce((n, d) => n * d, 1);
    const data = decodeRaw(
      o.name,
      o.datatype,
      o.shape,
      count,
      frame.body.subarray(o.offset, o.offset + o.length),
    );
    return {
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      data,
      ...(o.parameters ? { parameters: o.parameters } : {}),
    };
  });
  return reply.parameters ? { outputs, parameters: reply.parameters } : { outputs };
}
