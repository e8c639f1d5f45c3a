/**
 * The XGBoost and LightGBM runtimes: tree models read and evaluated in TypeScript (ADR 0010), in
 * the threads of one shared engine-worker pool.
 */
import { availableParallelism } from 'node:os';
import type { ModelRuntime } from '../core/model-runtime.js';
import { createTreeRuntime, type EnginePool } from './tree-runtime.js';
import { WorkerPool } from './worker-pool.js';

/** A module next to this one (.js when built, .ts under tsx). */
function sibling(path: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${path}${ext}`, import.meta.url).href;
}

/** The tree runtimes, sharing one pool of engine threads started on the first threaded load. */
export function createTreeRuntimes(options: { readonly parallelWorkers: number }): ModelRuntime[] {
  let pool: EnginePool | undefined;
  const threads = (): EnginePool =>
    (pool ??= new WorkerPool({
      filename: sibling('./engine-worker'),
      maxIdleThreads: Math.max(options.parallelWorkers, availableParallelism()),
    }));
  const shared = { parallelWorkers: options.parallelWorkers, threads };
  const xgboost = createTreeRuntime(
    {
      name: 'xgboost',
      aliases: ['mlserver_xgboost.XGBoostModel', 'tessera.xgboost'],
      framework: 'XGBoost',
      platform: 'xgboost',
      engineModule: sibling('./xgboost/xgboost-engine'),
      // MLServer looks for model.bst and model.json; its docs add model.ubj.
      wellKnownFiles: ['model.json', 'model.ubj', 'model.bst'],
      reads: ['xgboost-json', 'xgboost-ubj'],
      saveHint: 're-save the model with booster.save_model("model.json")',
    },
    shared,
  );
  const lightgbm = createTreeRuntime(
    {
      name: 'lightgbm',
      aliases: ['mlserver_lightgbm.LightGBMModel', 'tessera.lightgbm'],
      framework: 'LightGBM',
      platform: 'lightgbm',
      engineModule: sibling('./lightgbm/lightgbm-engine'),
      wellKnownFiles: ['model.bst', 'model.txt'],
      reads: ['lightgbm-text'],
      saveHint: 're-save the model with booster.save_model("model.txt")',
    },
    shared,
  );
  let closed = false;
  // The pool is shared: the first runtime closed at shutdown stops it.
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await pool?.close();
  };
  return [
    { ...xgboost, close },
    { ...lightgbm, close },
  ];
}
