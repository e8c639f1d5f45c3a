/**
 * The XGBoost and LightGBM runtimes: tree models read and evaluated in TypeScript (ADR 0010), in
 * the shared engine threads (runtime/engine-threads.ts).
 */
import type { ModelRuntime } from '../core/model-runtime.js';
import type { EngineThreads } from './engine-threads.js';
import { createTreeRuntime } from './tree-runtime.js';

/** A module next to this one (.js when built, .ts under tsx). */
function sibling(path: string): string {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${path}${ext}`, import.meta.url).href;
}

/** The tree runtimes; their instances borrow the shared engine threads. */
export function createTreeRuntimes(options: {
  readonly parallelWorkers: number;
  readonly threads: EngineThreads;
}): ModelRuntime[] {
  const shared = { parallelWorkers: options.parallelWorkers, threads: options.threads };
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
  return [xgboost, lightgbm];
}
