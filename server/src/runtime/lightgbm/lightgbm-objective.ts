/**
 * LightGBM objectives at prediction time (`ConvertOutput` in src/objective/*.hpp): how raw sums
 * become predictions. The objective line of a model reads e.g. `binary sigmoid:1`,
 * `multiclass num_class:3`, `regression sqrt`.
 */
import { ModelFormatError } from '../trees/tree-engine.js';

/** How predictions relate to raw scores. */
export interface LightgbmLink {
  readonly kind: 'identity' | 'sigmoid' | 'softmax' | 'exp' | 'log1p-exp' | 'square';
  /** The sigmoid's slope (`sigmoid:` parameter, default 1). */
  readonly sigmoid: number;
  /** Whether the objective is a classifier's (binary, multiclass, multiclassova). */
  readonly classifier: boolean;
}

const KINDS: Readonly<Record<string, LightgbmLink['kind']>> = {
  binary: 'sigmoid',
  multiclass: 'softmax',
  softmax: 'softmax',
  multiclassova: 'sigmoid',
  multiclass_ova: 'sigmoid',
  ova: 'sigmoid',
  ovr: 'sigmoid',
  cross_entropy: 'sigmoid',
  xentropy: 'sigmoid',
  cross_entropy_lambda: 'log1p-exp',
  xentlambda: 'log1p-exp',
  poisson: 'exp',
  gamma: 'exp',
  tweedie: 'exp',
  regression: 'identity',
  regression_l2: 'identity',
  l2: 'identity',
  mean_squared_error: 'identity',
  mse: 'identity',
  regression_l1: 'identity',
  l1: 'identity',
  mean_absolute_error: 'identity',
  mae: 'identity',
  huber: 'identity',
  fair: 'identity',
  quantile: 'identity',
  mape: 'identity',
  lambdarank: 'identity',
  rank_xendcg: 'identity',
  custom: 'identity',
  none: 'identity',
};

const CLASSIFIERS = new Set([
  'binary',
  'multiclass',
  'softmax',
  'multiclassova',
  'multiclass_ova',
  'ova',
  'ovr',
]);

/** Reads the objective line. */
export function lightgbmLink(objective: string): LightgbmLink {
  const [name = 'regression', ...params] = objective.trim().split(/\s+/);
  const kind = KINDS[name];
  if (kind === undefined) {
    throw new ModelFormatError(`the LightGBM objective '${name}' is not supported`);
  }
  const sigmoidParam = params.find((p) => p.startsWith('sigmoid:'));
  const sigmoid = sigmoidParam === undefined ? 1 : Number(sigmoidParam.slice('sigmoid:'.length));
  // `regression sqrt` trained on sqrt(label); predictions are squared back with their sign.
  const square = kind === 'identity' && params.includes('sqrt');
  return {
    kind: square ? 'square' : kind,
    sigmoid: name === 'cross_entropy' || name === 'xentropy' ? 1 : sigmoid,
    classifier: CLASSIFIERS.has(name),
  };
}

/** Turns raw sums (`rows * groups`) into predictions in place. */
export function convertOutputs(link: LightgbmLink, values: Float64Array, groups: number): void {
  switch (link.kind) {
    case 'identity':
      return;
    case 'sigmoid':
      for (let i = 0; i < values.length; i++) {
        values[i] = 1 / (1 + Math.exp(-link.sigmoid * (values[i] ?? 0)));
      }
      return;
    case 'exp':
      for (let i = 0; i < values.length; i++) values[i] = Math.exp(values[i] ?? 0);
      return;
    case 'log1p-exp':
      for (let i = 0; i < values.length; i++) values[i] = Math.log1p(Math.exp(values[i] ?? 0));
      return;
    case 'square':
      for (let i = 0; i < values.length; i++) {
        const v = values[i] ?? 0;
        values[i] = Math.sign(v) * v * v;
      }
      return;
    case 'softmax':
      softmax(values, groups);
  }
}

/** Softmax of each row (common.h `Softmax`: shift by the maximum, exp, normalise). */
function softmax(values: Float64Array, k: number): void {
  for (let start = 0; start < values.length; start += k) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, values[start + j] ?? 0);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp((values[start + j] ?? 0) - max);
      values[start + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j++) values[start + j] = (values[start + j] ?? 0) / sum;
  }
}
