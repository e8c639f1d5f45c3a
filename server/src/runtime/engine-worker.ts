/**
 * A piscina worker that hosts engines of any kind (runtime/engine.ts): `open` imports the engine
 * module the task names and opens a model with it, `run` evaluates a request on an open engine,
 * `close` drops it. Every runtime that evaluates in threads (ONNX, trees, custom runtimes) runs
 * this one module on the threads of one shared pool (runtime/engine-threads.ts); the thread
 * outlives the engines it hosts (runtime/worker-pool.ts), so model churn starts no threads, and
 * evaluation never runs on the event loop.
 *
 * A thread runs several tasks at once (custom runtimes await), so the order of tasks is kept
 * here, per engine, rather than by a one-task-at-a-time queue: a close first refuses new runs,
 * then waits for the runs and streams already started on that engine, and only then frees it.
 * piscina hands messages to this handler in the order they were sent, so every run sent before a
 * close has started when the close arrives. That is what keeps `session.release()` from freeing
 * an ONNX session under a run that is still queued (onnxruntime-node defers `run` with
 * `setImmediate`, then computes synchronously on this thread).
 */
import type { MessagePort } from 'node:worker_threads';
import { type Engine, isEngineModule } from './engine.js';
import { serveIterator } from './port-iterator.js';

/** A task: open, run or close an engine (by the id the main thread gave it), or count them. */
export type EngineTask =
  | {
      readonly kind: 'open';
      readonly engine: number;
      /** URL of the engine module. */
      readonly module: string;
      readonly args: unknown;
    }
  | { readonly kind: 'run'; readonly engine: number; readonly request: unknown }
  /** Streams the responses to one request through `port` (runtime/port-iterator.ts). */
  | {
      readonly kind: 'stream';
      readonly engine: number;
      readonly request: unknown;
      readonly port: MessagePort;
    }
  | { readonly kind: 'close'; readonly engine: number }
  | { readonly kind: 'count' };

/** What a task answers: the engine's metadata (open), its response (run), closed or a count. */
export type EngineTaskResult = unknown;

/** What a `run` task answers: the engine's result and how long the engine computed it. */
export interface EngineRunResult {
  readonly value: unknown;
  readonly computeMs: number;
}

/**
 * How long a close waits for runs still in flight on its engine. Synchronous engines (trees,
 * ONNX) finish theirs before a timer can fire, so this bounds only user code that awaits without
 * end (a custom runtime's `predict`): its unload goes ahead after this long, as after a drain
 * timeout.
 */
export const CLOSE_WAIT_MS = 10_000;

/** An open engine and the work started on it. */
interface Hosted {
  readonly engine: Engine;
  /** Runs and streams started and not settled. */
  readonly inFlight: Set<Promise<unknown>>;
  /** The ports of open streams: closing one returns the producer's iterator. */
  readonly ports: Set<MessagePort>;
  /** Set by the first close; later runs are refused and later closes wait for the same one. */
  closing?: Promise<boolean>;
}

const engines = new Map<number, Hosted>();

/** Opens an engine with the module at `url` (also used on the main thread, `parallel_workers: 0`). */
export async function openEngine(url: string, args: unknown): Promise<Engine> {
  const mod: unknown = await import(url);
  if (!isEngineModule(mod)) throw new Error(`${url} is not an engine module (no open())`);
  return mod.open(args);
}

function hostedOf(id: number): Hosted {
  const hosted = engines.get(id);
  // Only after a crash replaced this thread (piscina respawns it without the old state).
  if (hosted === undefined) throw new Error('the model engine is gone; load the model again');
  if (hosted.closing !== undefined) throw new Error('the model instance was unloaded');
  return hosted;
}

/** Counts `work` as in flight on `hosted` until it settles. */
function track<T>(hosted: Hosted, work: Promise<T>): Promise<T> {
  hosted.inFlight.add(work);
  const done = (): void => {
    hosted.inFlight.delete(work);
  };
  work.then(done, done);
  return work;
}

/** Resolves when every promise settled, or after `ms`, whichever is first. */
async function settledWithin(work: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (work.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([Promise.allSettled(work), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function close(id: number, hosted: Hosted): Promise<boolean> {
  // A stream still open at unload (its drain timed out) ends now: the producer is returned.
  for (const port of hosted.ports) port.close();
  await settledWithin([...hosted.inFlight], CLOSE_WAIT_MS);
  engines.delete(id);
  await hosted.engine.close?.();
  return true;
}

/** The worker's entry point. */
export default async function handle(task: EngineTask): Promise<EngineTaskResult> {
  switch (task.kind) {
    case 'open': {
      const engine = await openEngine(task.module, task.args);
      engines.set(task.engine, { engine, inFlight: new Set(), ports: new Set() });
      return engine.metadata;
    }
    case 'run': {
      const hosted = hostedOf(task.engine);
      // Timed here, on the thread: the caller tells the model's compute from its wait for us.
      const started = performance.now();
      const run = Promise.resolve(hosted.engine.run(task.request)).then(
        (value): EngineRunResult => ({ value, computeMs: performance.now() - started }),
      );
      return track(hosted, run);
    }
    case 'stream': {
      const hosted = hostedOf(task.engine);
      if (hosted.engine.stream === undefined) throw new Error('the model does not stream');
      const { port } = task;
      const served = serveIterator(hosted.engine.stream(task.request), port);
      hosted.ports.add(port);
      return track(
        hosted,
        served.finally(() => hosted.ports.delete(port)),
      );
    }
    case 'close': {
      const hosted = engines.get(task.engine);
      if (hosted === undefined) return false;
      hosted.closing ??= close(task.engine, hosted);
      return hosted.closing;
    }
    case 'count':
      return engines.size;
  }
}
