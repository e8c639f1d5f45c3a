/**
 * The runtimes this build ships, selected by a model's `implementation`.
 */
import type { ModelRuntime } from '../core/model-runtime.js';
import { createCustomRuntime } from './custom/custom-runtime.js';
import { createOnnxRuntime } from './onnx-runtime.js';
import { createSklearnRuntime } from './sklearn-runtime.js';
import { createTreeRuntimes } from './tree-runtimes.js';

/** Server-wide options the runtimes honour. */
export interface RuntimeOptions {
  /** Worker threads per model instance (MLServer's `parallel_workers`); 0 = main thread. */
  readonly parallelWorkers: number;
}

/** Every built-in runtime, in lookup order; the custom runtime takes module and package names. */
export function builtinRuntimes(options: RuntimeOptions): readonly ModelRuntime[] {
  const onnx = createOnnxRuntime(options);
  return [
    onnx,
    createSklearnRuntime(onnx),
    ...createTreeRuntimes(options),
    createCustomRuntime(options),
  ];
}
