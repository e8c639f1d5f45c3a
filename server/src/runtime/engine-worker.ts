/**
 * A piscina worker that hosts engines of any kind (runtime/engine.ts): `open` imports the engine
 * module the task names and opens a model with it, `run` evaluates a request on an open engine,
 * `close` drops it. The thread outlives the engines it hosts (runtime/worker-pool.ts), so model
 * churn starts no threads, and evaluation never runs on the event loop.
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

const engines = new Map<number, Engine>();

/** Opens an engine with the module at `url` (also used on the main thread, `parallel_workers: 0`). */
export async function openEngine(url: string, args: unknown): Promise<Engine> {
  const mod: unknown = await import(url);
  if (!isEngineModule(mod)) throw new Error(`${url} is not an engine module (no open())`);
  return mod.open(args);
}

function engineOf(id: number): Engine {
  const engine = engines.get(id);
  // Only after a crash replaced this thread (piscina respawns it without the old state).
  if (engine === undefined) throw new Error('the model engine is gone; load the model again');
  return engine;
}

/** The worker's entry point. */
export default async function handle(task: EngineTask): Promise<EngineTaskResult> {
  switch (task.kind) {
    case 'open': {
      const engine = await openEngine(task.module, task.args);
      engines.set(task.engine, engine);
      return engine.metadata;
    }
    case 'run':
      return engineOf(task.engine).run(task.request);
    case 'stream': {
      const engine = engineOf(task.engine);
      if (engine.stream === undefined) throw new Error('the model does not stream');
      return serveIterator(engine.stream(task.request), task.port);
    }
    case 'close': {
      const engine = engines.get(task.engine);
      if (engine === undefined) return false;
      engines.delete(task.engine);
      await engine.close?.();
      return true;
    }
    case 'count':
      return engines.size;
  }
}
