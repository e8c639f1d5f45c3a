/**
 * ONNX Runtime session options from a model's `parameters.extra` in model-settings.json, parsed
 * with zod when the model loads, so a typo or a bad value fails the load with the field and the
 * reason instead of being ignored. Unknown keys stay allowed: `extra` is shared by every runtime.
 */
import { availableParallelism } from 'node:os';
import type * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { ErrorCode, ServerError } from '../errors.js';
import { formatIssues, type ModelSettings } from '../core/model-settings.js';

const threads = z.number().int().min(0).max(1024);

/** The keys of `parameters.extra` the ONNX runtime reads. */
export const onnxExtraSchema = z.looseObject({
  /** Threads one operator may use (0 = onnxruntime's default, one per core). */
  intra_op_threads: threads.optional(),
  /** Threads running independent operators at once (with `execution_mode: parallel`). */
  inter_op_threads: threads.optional(),
  /** onnxruntime's graph optimisation level; `all` by default. */
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  /** `sequential` (default) or `parallel` operator execution. */
  execution_mode: z.enum(['sequential', 'parallel']).optional(),
});

/**
 * The session options of a model. With several workers each session gets a share of the cores
 * unless `intra_op_threads` says otherwise, so sessions do not each start a thread per core.
 */
export function sessionOptions(
  settings: Pick<ModelSettings, 'extra' | 'source'>,
  workers: number,
): ort.InferenceSession.SessionOptions {
  const parsed = onnxExtraSchema.safeParse(settings.extra);
  if (!parsed.success) {
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${settings.source}: parameters.extra: ${formatIssues(parsed.error)}`,
    );
  }
  const extra = parsed.data;
  const intra =
    extra.intra_op_threads ??
    (workers > 1 ? Math.max(1, Math.floor(availableParallelism() / workers)) : undefined);
  return {
    graphOptimizationLevel: extra.graph_optimization_level ?? 'all',
    executionMode: extra.execution_mode ?? 'sequential',
    ...(intra === undefined ? {} : { intraOpNumThreads: intra }),
    ...(extra.inter_op_threads === undefined ? {} : { interOpNumThreads: extra.inter_op_threads }),
  };
}
