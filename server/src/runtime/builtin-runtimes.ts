/**
 * The runtimes this build ships, selected by a model's `implementation`.
 */
import type { ModelRuntime } from '../core/model-runtime.js';
import { createCustomRuntime } from './custom/custom-runtime.js';
import type { Logger } from '../core/ports.js';
import { EngineThreads } from './engine-threads.js';
import { createOnnxRuntime } from './onnx-runtime.js';
import { createSklearnRuntime } from './sklearn-runtime.js';
import { createPythonRuntime } from './python/python-runtime.js';
import { createTreeRuntimes } from './tree-runtimes.js';
import { Environments } from './python/environments.js';
import type { CustomMetricSink } from './python/metric-frames.js';

/** Server-wide options the runtimes honour. */
export interface RuntimeOptions {
  /** Worker threads per model instance (MLServer's `parallel_workers`); 0 = main thread. */
  readonly parallelWorkers: number;
  /** Engine threads started before instances share them (`max_worker_threads`; 0 = one per core). */
  readonly maxWorkerThreads?: number;
  /** The Python for MLServer runtimes (`python_executable`), or undefined. */
  readonly pythonExecutable?: string | undefined;
  /** Requests in flight per Python worker (`python_max_in_flight`). */
  readonly pythonMaxInFlight?: number;
  /** Requests one engine thread holds, running and queued (`worker_max_in_flight`). */
  readonly workerMaxInFlight?: number;
  /** The server-wide environment tarball (`env_tarball`, MLSERVER_ENV_TARBALL), or undefined. */
  readonly envTarball?: string | undefined;
  /** Where environment tarballs are unpacked and their limits (docs/python-runtimes.md). */
  readonly environments?: {
    readonly dir: string;
    readonly maxBytes: number;
    readonly maxEntries: number;
    readonly cacheBytes?: number | undefined;
  };
  /** Where the Python runtimes' custom metrics (`mlserver.log`) go. */
  readonly customMetrics?: CustomMetricSink;
  /** Where the Python workers' output goes. */
  readonly logger?: Logger;
}

const SILENT: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** The built-in runtimes and the engine threads they share. */
export interface BuiltinRuntimes {
  /** Every built-in runtime, in lookup order. */
  readonly runtimes: readonly ModelRuntime[];
  /** The one pool of engine threads the ONNX, scikit-learn, tree and custom runtimes borrow. */
  readonly threads: EngineThreads;
}

/** Every built-in runtime, in lookup order; the custom runtime takes module and package names. */
export function builtinRuntimes(options: RuntimeOptions): BuiltinRuntimes {
  const logger = options.logger ?? SILENT;
  const threads = new EngineThreads({
    parallelWorkers: options.parallelWorkers,
    ...(options.maxWorkerThreads === undefined ? {} : { maxThreads: options.maxWorkerThreads }),
    ...(options.workerMaxInFlight === undefined
      ? {}
      : { maxInFlightPerThread: options.workerMaxInFlight }),
    onWorkerReplaced: (reason) => {
      logger.warn(
        { reason },
        'a worker thread stopped and was replaced; the model it served is reopened on the new thread',
      );
    },
  });
  const shared = { parallelWorkers: options.parallelWorkers, threads };
  const onnx = createOnnxRuntime(shared);
  const python = createPythonRuntime({
    pythonExecutable: options.pythonExecutable,
    envTarball: options.envTarball,
    environments:
      options.environments === undefined
        ? undefined
        : new Environments({ ...options.environments, logger }),
    maxInFlight: options.pythonMaxInFlight ?? 64,
    // MLServer's parallel_workers: inference processes, each holding every model; a Python
    // model has no in-server mode, so 0 (MLServer: infer in the main process) means one.
    processes: Math.max(1, options.parallelWorkers),
    customMetrics: options.customMetrics,
    logger,
  });
  // A scikit-learn folder holding only a pickle goes to the Python worker when there is a Python.
  const hasPython = options.pythonExecutable !== undefined || options.envTarball !== undefined;
  const runtimes = [
    onnx,
    createSklearnRuntime(onnx, hasPython ? python : undefined),
    ...createTreeRuntimes(shared),
    // Before the custom runtime: a dotted path ending in a class name is Python's.
    python,
    createCustomRuntime(shared),
  ];
  return { runtimes, threads };
}
