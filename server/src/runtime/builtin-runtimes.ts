/**
 * The runtimes this build ships, selected by a model's `implementation`.
 */
import type { ModelRuntime } from '../core/model-runtime.js';
import { onnxRuntime } from './onnx-runtime.js';

/** Every built-in runtime, in lookup order. */
export const builtinRuntimes: readonly ModelRuntime[] = [onnxRuntime];
