/**
 * Long-lived worker threads that model instances borrow. A thread runs one worker module (the
 * engine worker, runtime/engine-threads.ts, so the pool knows nothing of ONNX or trees). An
 * instance leases `parallel_workers` distinct threads; while the pool has fewer than `maxThreads`
 * threads a lease gets threads of its own, past that it shares the least-leased ones with other
 * instances (MLServer's model: every worker hosts every model), because a thread is a V8 isolate
 * of ~10 MiB and more threads than cores add no compute (bench/RESULTS.md, "model density").
 * When the instance unloads, its threads go back to the pool and the next load, of any runtime,
 * reuses them.
 *
 * Why not a piscina pool per instance: every pool that is created and destroyed leaves native
 * memory behind (a V8 isolate per worker and piscina's per-pool timing histograms, neither of
 * which the garbage collector sees as pressure), so a server that loads and unloads models
 * grew without bound (bench/RESULTS.md, "Model churn"). Threads that outlive instances make the
 * cost of a load a session, not a thread.
 *
 * Each thread is a one-thread piscina pool: piscina owns the worker protocol (task messages,
 * errors, respawn after a crash) and its FIFO queue, and the pool here decides which thread a task
 * goes to, which piscina cannot (a task there goes to any thread of its pool).
 *
 * A thread whose worker dies (a runtime that exits the thread, an out-of-memory abort, an error
 * thrown outside any task) is replaced by piscina; the tasks it was running fail, and before the
 * replacement runs anything else it replays the restore task (the engine's `open`) of every lease
 * it serves, so the models keep serving on the new worker instead of answering "gone" until
 * someone reloads them.
 * Each thread holds at most `maxPendingPerThread` tasks, running and queued: a saturated lease
 * answers SRV_ERR_OVERLOADED at once rather than queueing without bound.
 */
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ErrorCode, ServerError } from '../errors.js';

/** Options of a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** URL of the module each thread runs (piscina's `filename`). */
  readonly filename: string;
  /** Idle threads kept for reuse; a thread given back beyond this number is stopped. */
  readonly maxIdleThreads: number;
  /**
   * Threads the pool starts before leases share threads (default: no bound). A lease asking for
   * more distinct threads than this still gets them.
   */
  readonly maxThreads?: number;
  /**
   * Tasks a thread runs at once (default 1: in order, one after another). Above 1, tasks still
   * reach the worker in the order they were sent, but a task may start before an earlier one
   * settled: the worker module keeps whatever order it needs (runtime/engine-worker.ts does).
   */
  readonly concurrentTasksPerWorker?: number;
  /** Tasks one thread holds at once, running and queued; one more is refused (default: no bound). */
  readonly maxPendingPerThread?: number;
  /** Called when a thread's worker died and was replaced (for the server log). */
  readonly onWorkerReplaced?: (reason: string) => void;
}

/** Counters of a {@link WorkerPool}, for tests and diagnostics. */
export interface WorkerPoolStats {
  /** Threads started since the pool was created. */
  readonly started: number;
  /** Threads waiting for an instance. */
  readonly idle: number;
  /** Threads lent to at least one instance. */
  readonly leased: number;
  /** Threads lent to more than one instance. */
  readonly shared: number;
  /** Workers that died and were replaced since the pool was created. */
  readonly replaced: number;
}

/** One worker thread with its own task queue. */
class WorkerThread<Task, Result> {
  readonly #piscina: Piscina<Task, Result>;
  /** Tasks sent and not settled: the load measure for picking a thread. */
  pending = 0;
  /** Leases holding this thread. */
  leases = 0;
  /** Held by one exclusive lease: no other lease joins it. */
  exclusive = false;
  /** Replayed on a replacement worker before any other task: each lease's engine open. */
  readonly restores = new Map<number, Task>();
  /** Set when the worker died; the next task replays {@link restores} first. */
  #replaced = false;
  /** The replay in progress, which tasks sent meanwhile wait for. */
  #restoring: Promise<unknown> | undefined;
  #stopping = false;

  constructor(
    filename: string,
    concurrentTasksPerWorker: number,
    onReplaced: (reason: string) => void,
  ) {
    this.#piscina = new Piscina<Task, Result>({
      filename,
      minThreads: 1,
      maxThreads: 1,
      // With 1, a task sent after another starts after it settled; with more, tasks start in
      // the order sent and the worker module orders what must wait (ARCHITECTURE.md).
      concurrentTasksPerWorker,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Nothing reads piscina's histograms; they are native memory per pool.
      recordTiming: false,
    });
    const replaced = (reason: string): void => {
      if (this.#stopping || this.#replaced) return;
      this.#replaced = true;
      onReplaced(reason);
    };
    // Without a listener, piscina's 'error' (a worker error while no task ran) would be thrown
    // as an uncaught exception and stop the server.
    this.#piscina.on('error', (error: unknown) => {
      replaced(error instanceof Error ? error.message : String(error));
    });
    this.#piscina.on('workerDestroy', () => {
      replaced('its worker thread stopped');
    });
  }

  async run(task: Task, transferList?: readonly Transferable[]): Promise<Result> {
    this.pending++;
    try {
      await this.#restored();
      return await this.#piscina.run(
        task,
        transferList === undefined ? {} : { transferList: [...transferList] as never },
      );
    } finally {
      this.pending--;
    }
  }

  /** After a replacement, replays the restore tasks once; tasks sent meanwhile wait for them. */
  async #restored(): Promise<void> {
    if (this.#replaced) {
      this.#replaced = false;
      const restores = [...this.restores.values()];
      this.#restoring =
        restores.length === 0
          ? undefined
          : Promise.all(restores.map((task) => this.#piscina.run(task))).catch((error: unknown) => {
              // Tried again by the next task; this one fails with the reason.
              this.#replaced = true;
              this.#restoring = undefined;
              throw error;
            });
    }
    await this.#restoring;
  }

  stop(): Promise<void> {
    this.#stopping = true;
    return this.#piscina.destroy();
  }
}

/** Threads lent to one instance; give them back with {@link release}. */
export class WorkerLease<Task, Result> {
  readonly #id: number;
  readonly #threads: readonly WorkerThread<Task, Result>[];
  readonly #giveBack: (threads: readonly WorkerThread<Task, Result>[]) => Promise<void>;
  readonly #maxPending: number;
  #released = false;

  /** @internal Created by {@link WorkerPool.lease}. */
  constructor(
    id: number,
    threads: readonly WorkerThread<Task, Result>[],
    giveBack: (threads: readonly WorkerThread<Task, Result>[]) => Promise<void>,
    maxPending: number,
  ) {
    this.#id = id;
    this.#threads = threads;
    this.#giveBack = giveBack;
    this.#maxPending = maxPending;
  }

  /**
   * The task each thread replays when its worker was replaced (the engine's open), or undefined
   * to replay nothing (set before the engine's close).
   */
  setRestore(task: Task | undefined): void {
    for (const thread of this.#threads) {
      if (task === undefined) thread.restores.delete(this.#id);
      else thread.restores.set(this.#id, task);
    }
  }

  /**
   * Runs a task on the leased thread with the fewest unsettled tasks; `transferList` moves objects
   * (a MessagePort for a stream) to the thread instead of cloning them.
   */
  run(task: Task, transferList?: readonly Transferable[]): Promise<Result> {
    let best = this.#threads[0];
    for (const thread of this.#threads) {
      if (best === undefined || thread.pending < best.pending) best = thread;
    }
    if (best === undefined || this.#released) {
      return Promise.reject(new Error('the worker threads were given back'));
    }
    if (best.pending >= this.#maxPending) {
      return Promise.reject(
        new ServerError(
          ErrorCode.OVERLOADED,
          `every worker thread of the model holds ${String(this.#maxPending)} requests (worker_max_in_flight); retry later`,
        ),
      );
    }
    return best.run(task, transferList);
  }

  /** Runs a task on every leased thread (open or close a per-thread resource). */
  runOnEach(task: Task): Promise<Result[]> {
    if (this.#released) return Promise.reject(new Error('the worker threads were given back'));
    return Promise.all(this.#threads.map((thread) => thread.run(task)));
  }

  /** Gives the threads back to the pool; later tasks are refused. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    for (const thread of this.#threads) thread.restores.delete(this.#id);
    await this.#giveBack(this.#threads);
  }
}

/** Worker threads shared by every instance of the runtimes given it, reused across loads. */
export class WorkerPool<Task, Result> {
  readonly #options: WorkerPoolOptions;
  /** Every running thread, leased or idle. */
  readonly #threads: WorkerThread<Task, Result>[] = [];
  #nextLease = 1;
  #started = 0;
  #replaced = 0;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /**
   * Lends `count` distinct threads: idle ones first, then new ones while the pool is under
   * `maxThreads`, then the least-leased ones (shared), then new ones past the bound if the pool
   * has fewer than `count` threads in all. An `exclusive` lease takes idle or new threads only and
   * no later lease joins them (user code that may compute without yielding keeps its isolation).
   */
  lease(count: number, options: { readonly exclusive?: boolean } = {}): WorkerLease<Task, Result> {
    if (this.#closed) throw new Error('the worker pool is closed');
    const exclusive = options.exclusive === true;
    const max = this.#options.maxThreads ?? Number.POSITIVE_INFINITY;
    const chosen = this.#threads.filter((t) => t.leases === 0).slice(0, count);
    while (chosen.length < count && (exclusive || this.#threads.length < max)) {
      chosen.push(this.#start());
    }
    if (chosen.length < count) {
      const leastLeased = this.#threads
        .filter((t) => !t.exclusive && !chosen.includes(t))
        .sort((a, b) => a.leases - b.leases || a.pending - b.pending);
      chosen.push(...leastLeased.slice(0, count - chosen.length));
    }
    while (chosen.length < count) chosen.push(this.#start());
    for (const thread of chosen) {
      thread.leases++;
      thread.exclusive = exclusive;
    }
    return new WorkerLease(
      this.#nextLease++,
      chosen,
      (back) => this.#giveBack(back),
      this.#options.maxPendingPerThread ?? Number.POSITIVE_INFINITY,
    );
  }

  #start(): WorkerThread<Task, Result> {
    const thread = new WorkerThread<Task, Result>(
      this.#options.filename,
      this.#options.concurrentTasksPerWorker ?? 1,
      (reason) => {
        this.#replaced++;
        this.#options.onWorkerReplaced?.(reason);
      },
    );
    this.#threads.push(thread);
    this.#started++;
    return thread;
  }

  /** Runs a task on every idle thread (e.g. to ask each thread what it holds). */
  runOnIdle(task: Task): Promise<Result[]> {
    return Promise.all(this.#threads.filter((t) => t.leases === 0).map((t) => t.run(task)));
  }

  stats(): WorkerPoolStats {
    const idle = this.#threads.filter((t) => t.leases === 0).length;
    return {
      started: this.#started,
      idle,
      leased: this.#threads.length - idle,
      shared: this.#threads.filter((t) => t.leases > 1).length,
      replaced: this.#replaced,
    };
  }

  /** Stops the idle threads and every thread given back from now on (shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#stopIdle(0));
  }

  async #giveBack(threads: readonly WorkerThread<Task, Result>[]): Promise<void> {
    for (const thread of threads) {
      thread.leases--;
      if (thread.leases === 0) thread.exclusive = false;
    }
    await Promise.all(this.#stopIdle(this.#closed ? 0 : this.#options.maxIdleThreads));
  }

  /** Stops idle threads beyond `keep` (the most recently started first) and forgets them. */
  #stopIdle(keep: number): Promise<void>[] {
    const idle = this.#threads.filter((t) => t.leases === 0);
    const stopping = idle.slice(Math.max(0, keep));
    for (const thread of stopping) this.#threads.splice(this.#threads.indexOf(thread), 1);
    return stopping.map((thread) => thread.stop());
  }
}
