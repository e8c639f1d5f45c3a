/**
 * The one pool of engine-worker threads (runtime/engine-worker.ts) that every runtime evaluating
 * off the event loop borrows from: ONNX (and scikit-learn through it), XGBoost, LightGBM and
 * custom runtimes. It is created once (runtime/builtin-runtimes.ts), starts its first thread on
 * the first threaded load (so `parallel_workers: 0` starts none) and is closed once at shutdown.
 * A thread given back by one runtime's unload is reused by the next load of any runtime.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type Transferable } from 'node:worker_threads';
import { ErrorCode, ServerError } from '../errors.js';
import type { EngineRunResult, EngineTask, EngineTaskResult } from './engine-worker.js';
import { portIterator } from './port-iterator.js';
import { WorkerPool, type WorkerLease, type WorkerPoolStats } from './worker-pool.js';

/**
 * Tasks (requests and open streams) one thread runs at once. Custom runtimes need several (user
 * code awaits); synchronous engines hold their thread while they compute anyway, and the engine
 * worker keeps each engine's close after its runs (ARCHITECTURE.md).
 */
export const TASKS_PER_THREAD = 64;

/** The engine worker module (.js when built, .ts under tsx). */
const ENGINE_WORKER = new URL(
  `./engine-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
  import.meta.url,
).href;

/** Counters of the shared threads, for tests and diagnostics. */
export interface EngineThreadStats extends WorkerPoolStats {
  /** Engines open in idle threads: 0 unless an unload leaked one. */
  readonly idleEngines: number;
}

type Lease = WorkerLease<EngineTask, EngineTaskResult>;

/** Options of the {@link EngineThreads}. */
export interface EngineThreadsOptions {
  /** The server default `parallel_workers`: at least that many idle threads are kept. */
  readonly parallelWorkers: number;
  /**
   * Threads started before instances share them (`max_worker_threads`); 0 or absent = one per
   * CPU core, and never fewer than `parallelWorkers`.
   */
  readonly maxThreads?: number;
  /** Requests one thread holds at once, running and queued (`worker_max_in_flight`). */
  readonly maxInFlightPerThread?: number;
  /** Told when a thread's worker died and was replaced, with the reason. */
  readonly onWorkerReplaced?: (reason: string) => void;
}

/** Process-wide engine ids: a thread keys the engines it hosts by them. */
let nextEngineId = 1;

/** The shared engine threads. */
export class EngineThreads {
  readonly #maxIdleThreads: number;
  readonly #maxThreads: number;
  readonly #options: EngineThreadsOptions;
  #pool: WorkerPool<EngineTask, EngineTaskResult> | undefined;
  #closed = false;

  constructor(options: EngineThreadsOptions) {
    // Enough for an unload/load of a default-sized model to find its threads again.
    this.#maxIdleThreads = Math.max(options.parallelWorkers, availableParallelism());
    this.#maxThreads =
      options.maxThreads === undefined || options.maxThreads === 0
        ? this.#maxIdleThreads
        : Math.max(options.maxThreads, options.parallelWorkers);
    this.#options = options;
  }

  /**
   * Opens an engine from the engine module at `module` on `threads` leased threads (one engine
   * per thread) and answers each thread's metadata. On failure the threads are given back.
   * `exclusive`: threads of its own, never shared with another model (custom runtimes).
   */
  async open<Metadata>(
    module: string,
    args: unknown,
    threads: number,
    options: { readonly exclusive?: boolean } = {},
  ): Promise<WorkerEngine<Metadata>> {
    if (this.#closed) throw new Error('the server is shutting down');
    this.#pool ??= new WorkerPool<EngineTask, EngineTaskResult>({
      filename: ENGINE_WORKER,
      maxIdleThreads: this.#maxIdleThreads,
      maxThreads: this.#maxThreads,
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      ...(this.#options.maxInFlightPerThread === undefined
        ? {}
        : { maxPendingPerThread: this.#options.maxInFlightPerThread }),
      ...(this.#options.onWorkerReplaced === undefined
        ? {}
        : { onWorkerReplaced: this.#options.onWorkerReplaced }),
    });
    const lease = this.#pool.lease(threads, options);
    const engine = nextEngineId++;
    try {
      const open: EngineTask = { kind: 'open', engine, module, args };
      const metadata = (await lease.runOnEach(open)) as Metadata[];
      if (metadata.length === 0) throw new Error('no worker thread was lent');
      // A thread whose worker dies reopens the engine on its replacement (runtime/worker-pool.ts).
      lease.setRestore(open);
      return new WorkerEngine(lease, engine, metadata);
    } catch (error) {
      // The open's error is the one to report, not a close's on a thread that never opened.
      await closeAndRelease(lease, engine).catch(() => undefined);
      throw error;
    }
  }

  /** Thread counters and the engines open in idle threads. */
  async stats(): Promise<EngineThreadStats> {
    const stats = this.#pool?.stats() ?? {
      started: 0,
      idle: 0,
      leased: 0,
      shared: 0,
      replaced: 0,
    };
    const counts = ((await this.#pool?.runOnIdle({ kind: 'count' })) ?? []) as number[];
    return { ...stats, idleEngines: counts.reduce((a, b) => a + b, 0) };
  }

  /** Stops the idle threads and every thread given back from now on (shutdown). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }
}

/** One model's engine, open on every thread of its lease; requests go to the least busy one. */
export class WorkerEngine<Metadata> {
  /** What the engine on each thread answered at open, one entry per thread. */
  readonly metadata: readonly Metadata[];
  readonly #lease: Lease;
  readonly #engine: number;
  #closed = false;

  /** @internal Created by {@link EngineThreads.open}. */
  constructor(lease: Lease, engine: number, metadata: readonly Metadata[]) {
    this.#lease = lease;
    this.#engine = engine;
    this.metadata = metadata;
  }

  #check(): void {
    if (this.#closed) {
      throw new ServerError(ErrorCode.MODEL_NOT_READY, 'the model instance was unloaded');
    }
  }

  /**
   * Evaluates one request on the least busy thread; `onComputed` gets how long the engine
   * computed it there (the rest of the call was spent waiting for the thread and handing over).
   */
  async run(
    request: unknown,
    options: {
      readonly transferList?: readonly Transferable[];
      readonly onComputed?: (computeMs: number) => void;
    } = {},
  ): Promise<unknown> {
    this.#check();
    let answer: EngineRunResult;
    try {
      answer = (await this.#lease.run(
        { kind: 'run', engine: this.#engine, request },
        options.transferList,
      )) as EngineRunResult;
    } catch (error) {
      throw workerDeath(error) ?? error;
    }
    options.onComputed?.(answer.computeMs);
    return answer.value;
  }

  /** Evaluates one request into a stream of responses, pulled across the thread one by one. */
  stream<T>(request: unknown): AsyncIterator<T> {
    this.#check();
    const { port1, port2 } = new MessageChannel();
    const task = this.#lease.run({ kind: 'stream', engine: this.#engine, request, port: port2 }, [
      port2,
    ]);
    return portIterator<T>(port1, task);
  }

  /**
   * Closes the engine on every thread, after the runs and streams already sent to it
   * (runtime/engine-worker.ts), then gives the threads back. Later requests are refused. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closeAndRelease(this.#lease, this.#engine);
  }
}

/**
 * piscina's error for a task whose worker died under it, in the user's terms: the request is
 * lost, the model is not (its engine is reopened on the replacement worker).
 */
function workerDeath(error: unknown): Error | undefined {
  const message = error instanceof Error ? error.message : '';
  const exit = /^worker exited with code: (-?\d+)/.exec(message);
  if (exit === null) return undefined;
  // A plain Error: the data plane names the model (inference failed in model '…': …).
  return new Error(
    `the worker thread running the model stopped during this request (exit code ${exit[1] ?? '?'}); it was replaced and later requests are served`,
  );
}

async function closeAndRelease(lease: Lease, engine: number): Promise<void> {
  lease.setRestore(undefined);
  try {
    await lease.runOnEach({ kind: 'close', engine });
  } finally {
    await lease.release();
  }
}
