/**
 * The worker processes of one Python environment (MLServer's `parallel_workers`): every model of
 * the environment is loaded in each process, a request goes to the least-loaded process that
 * serves, and a process that dies is restarted on its own (python-worker.ts) while the others keep
 * serving, so a model stays available while at least one process holds it.
 */
import { ErrorCode, ServerError } from '../../errors.js';
import { PythonWorker, type PythonWorkerOptions } from './python-worker.js';
import type { Frame } from './wire.js';

export interface PythonWorkerGroupOptions extends Omit<PythonWorkerOptions, 'index'> {
  /** Worker processes for the environment (at least 1). */
  readonly processes: number;
}

/** What the choice of a process needs to know about each one. */
export interface ProcessLoad {
  /** Whether it serves the model now (started, not restarting, holding it). */
  readonly serves: boolean;
  readonly inFlight: number;
}

/**
 * The process a request goes to: the serving one with the fewest calls in flight; among equals the
 * first at or after `start`, so an idle group spreads sequential requests round-robin instead of
 * sending them all to process 0. Undefined when none serves. Pure, for the unit tests.
 */
export function leastLoaded(processes: readonly ProcessLoad[], start: number): number | undefined {
  let best: number | undefined;
  let bestLoad = Infinity;
  for (let step = 0; step < processes.length; step++) {
    const index = (start + step) % processes.length;
    const process = processes[index];
    if (process?.serves !== true || process.inFlight >= bestLoad) continue;
    best = index;
    bestLoad = process.inFlight;
  }
  return best;
}

/** The processes of one environment, seen by the runtime as one worker. */
export class PythonWorkerGroup {
  readonly #workers: readonly PythonWorker[];
  readonly #maxInFlight: number;
  #next = 0;
  /** Loads in progress (a model not held yet, but about to be). */
  #loading = 0;

  constructor(options: PythonWorkerGroupOptions) {
    const count = Math.max(1, options.processes);
    this.#maxInFlight = options.maxInFlight;
    this.#workers = Array.from(
      { length: count },
      (_, index) => new PythonWorker({ ...options, index }),
    );
  }

  /** Versions the first process reported (every process runs the same interpreter). */
  get hello(): PythonWorker['hello'] {
    return this.#workers.find((w) => w.hello.python !== undefined)?.hello ?? {};
  }

  /** The pids of the processes running now. */
  get pids(): number[] {
    return this.#workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  /** Whether any process is running (or restarting): false once the last model unloaded. */
  get running(): boolean {
    return this.#workers.some((w) => w.pid !== undefined || w.downReason !== undefined);
  }

  /** Whether no process holds a model or is loading one (after a failed first load, say). */
  get idle(): boolean {
    return this.#loading === 0 && this.#workers.every((w) => w.models === 0);
  }

  /** Why no process serves `key` now (all are restarting), or undefined while one does. */
  unavailable(key: string): string | undefined {
    if (this.#workers.some((w) => w.holds(key) && w.downReason === undefined)) return undefined;
    return this.#workers.find((w) => w.downReason !== undefined)?.downReason;
  }

  /**
   * Loads a model in every process that serves (a restarting one loads it when it is back). A load
   * that fails in one process fails the model with that message and is undone in the others, so
   * the processes always hold the same models.
   */
  async load(key: string, head: Record<string, unknown>): Promise<unknown> {
    this.#loading++;
    try {
      return await this.#load(key, head);
    } finally {
      this.#loading--;
    }
  }

  async #load(key: string, head: Record<string, unknown>): Promise<unknown> {
    const up = this.#workers.filter((w) => w.downReason === undefined);
    // With every process restarting, loading starts them (the single-process behaviour).
    const targets = up.length > 0 ? up : this.#workers;
    const results = await Promise.allSettled(targets.map((w) => w.load(key, head)));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure !== undefined) {
      const loaded = targets.filter((_, i) => results[i]?.status === 'fulfilled');
      await Promise.all(loaded.map((w) => w.unload(key)));
      throw failure.reason;
    }
    for (const worker of this.#workers) if (!targets.includes(worker)) worker.hold(key, head);
    const first = results[0];
    return first?.status === 'fulfilled' ? first.value : undefined;
  }

  /** Unloads a model from every process; each stops when it holds no model any more. */
  async unload(key: string): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.unload(key)));
  }

  /** Runs inference in the least-loaded process serving `key`. */
  infer(
    key: string,
    head: unknown,
    body: readonly Uint8Array[],
    signal?: AbortSignal,
  ): Promise<Frame> {
    return this.#pick(key).infer(head, body, signal);
  }

  /** Runs one HTTP request for a custom REST handler of `key` in the least-loaded process. */
  http(
    key: string,
    head: unknown,
    body: readonly Uint8Array[],
    signal?: AbortSignal,
  ): Promise<Frame> {
    return this.#pick(key).http(head, body, signal);
  }

  /** Streams one request through the least-loaded process serving `key`. */
  stream(key: string, head: unknown, body: readonly Uint8Array[]): AsyncGenerator<Frame, void> {
    return this.#pick(key).stream(head, body);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.stop()));
  }

  #pick(key: string): PythonWorker {
    const loads = this.#workers.map((w) => ({
      serves: w.pid !== undefined && w.downReason === undefined && w.holds(key),
      inFlight: w.inFlight,
    }));
    const index = leastLoaded(loads, this.#next);
    this.#next = (this.#next + 1) % this.#workers.length;
    const worker = index === undefined ? undefined : this.#workers[index];
    if (worker === undefined) {
      throw new ServerError(
        ErrorCode.MODEL_NOT_READY,
        `the Python worker is restarting: ${this.unavailable(key) ?? 'it is not running'}`,
      );
    }
    if (worker.inFlight >= this.#maxInFlight) {
      throw new ServerError(
        ErrorCode.OVERLOADED,
        `every Python worker process has ${String(this.#maxInFlight)} requests in flight (python_max_in_flight); retry later`,
      );
    }
    return worker;
  }
}
