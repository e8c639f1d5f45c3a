/**
 * What the tree engines (XGBoost, LightGBM) exchange with their runtime across the thread
 * boundary: a batch of rows in, named output tensors out, and the metadata read from the model.
 * Outputs follow MLServer's sklearn-style runtimes: `predict` by default, `predict_proba` on
 * request for classifiers (mlserver-features.md §22).
 */

/** The default output, as MLServer names it. */
export const PREDICT = 'predict';
/** Class probabilities, for classifiers only. */
export const PREDICT_PROBA = 'predict_proba';

/** A batch of rows to evaluate. */
export interface TreeRequest {
  /** Row-major FP32 features, `rows * features` values. */
  readonly data: Float32Array;
  readonly rows: number;
  /** The outputs wanted, validated against the metadata. */
  readonly outputs: readonly string[];
}

/** One output tensor. */
export interface TreeTensor {
  readonly name: string;
  readonly datatype: 'FP32' | 'FP64' | 'INT32' | 'INT64';
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}

/** An output the model can produce, with its shape per row ([-1, k]). */
export interface TreeOutputSpec {
  readonly name: string;
  readonly datatype: TreeTensor['datatype'];
  readonly shape: readonly number[];
}

/** What a tree model says about itself. */
export interface TreeMetadata {
  readonly features: number;
  readonly outputs: readonly TreeOutputSpec[];
  /** Outputs the model cannot produce, with the reason (e.g. `predict_proba` on a regressor). */
  readonly unavailableOutputs: Readonly<Record<string, string>>;
  /** What the model is, for metadata parameters: e.g. `binary:logistic, 20 trees`. */
  readonly description: string;
  /** Bytes of the typed arrays the engine evaluates from (one copy), for `memory_bytes`. */
  readonly memoryBytes: number;
}

/** A loaded tree model. */
export interface TreeEngine {
  readonly metadata: TreeMetadata;
  run(request: TreeRequest): TreeTensor[];
}

/** Arguments of an engine module's `open`. */
export interface TreeOpenArgs {
  readonly file: string;
  /** `parameters.extra` of model-settings.json (iteration ranges and the like). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * A problem with the model file, in the user's terms (no paths, no stack): the runtime reports it
 * as the load error.
 */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

/** Argmax of each row of a `rows * k` matrix (first maximum wins, as numpy's argmax). */
export function argmaxRows(values: ArrayLike<number>, rows: number, k: number): BigInt64Array {
  const labels = new BigInt64Array(rows);
  for (let row = 0; row < rows; row++) {
    let best = 0;
    let bestValue = values[row * k] ?? Number.NEGATIVE_INFINITY;
    for (let j = 1; j < k; j++) {
      const value = values[row * k + j] ?? Number.NEGATIVE_INFINITY;
      if (value > bestValue) {
        best = j;
        bestValue = value;
      }
    }
    labels[row] = BigInt(best);
  }
  return labels;
}

/** `[1 - p, p]` per row, as sklearn-style `predict_proba` expands a binary probability. */
export function twoClassProba<T extends Float32Array | Float64Array>(
  p: T,
  make: (n: number) => T,
): T {
  const out = make(p.length * 2);
  for (let row = 0; row < p.length; row++) {
    const value = p[row] ?? 0;
    out[row * 2] = 1 - value;
    out[row * 2 + 1] = value;
  }
  return out;
}

/** An optional integer setting from `parameters.extra`, checked. */
export function extraInteger(
  extra: Readonly<Record<string, unknown>>,
  key: string,
): number | undefined {
  const value = extra[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ModelFormatError(`parameters.extra.${key} must be a non-negative integer`);
  }
  return value;
}
