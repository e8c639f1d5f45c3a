/**
 * XGBoost objectives at prediction time: how `base_score` (saved in output space) becomes a
 * margin, and how margins become predictions (`PredTransform`). Sources: src/objective/
 * regression_obj.cu, regression_loss.h, multiclass_obj.cu, hinge.cu, rank_obj; the margins of
 * binary:logitraw's base_score were measured on xgboost 3.2 (identity).
 */
import { ModelFormatError } from '../trees/tree-engine.js';

/** How predictions relate to margins. */
export type Link = 'identity' | 'logistic' | 'log' | 'softmax' | 'softmax-argmax' | 'hinge';

const LINKS: Readonly<Record<string, Link>> = {
  'binary:logistic': 'logistic',
  'reg:logistic': 'logistic',
  'binary:logitraw': 'identity',
  'binary:hinge': 'hinge',
  'reg:squarederror': 'identity',
  'reg:linear': 'identity',
  'reg:squaredlogerror': 'identity',
  'reg:pseudohubererror': 'identity',
  'reg:absoluteerror': 'identity',
  'reg:quantileerror': 'identity',
  'count:poisson': 'log',
  'reg:gamma': 'log',
  'reg:tweedie': 'log',
  'survival:cox': 'log',
  'survival:aft': 'log',
  'multi:softprob': 'softmax',
  'multi:softmax': 'softmax-argmax',
  'rank:pairwise': 'identity',
  'rank:ndcg': 'identity',
  'rank:map': 'identity',
};

/** The link of an objective; unknown objectives are refused at load. */
export function objectiveLink(objective: string): Link {
  const link = LINKS[objective];
  if (link === undefined) {
    throw new ModelFormatError(
      `the XGBoost objective '${objective}' is not supported (supported: ${Object.keys(LINKS).join(', ')})`,
    );
  }
  return link;
}

/** `base_score` (output space) to a margin (ProbToMargin), in float32 as XGBoost computes it. */
export function baseMargin(link: Link, baseScore: number): number {
  switch (link) {
    case 'logistic':
      return Math.fround(-Math.log(1 / baseScore - 1));
    case 'log':
      return Math.fround(Math.log(baseScore));
    case 'identity':
    case 'softmax':
    case 'softmax-argmax':
    case 'hinge':
      return Math.fround(baseScore);
  }
}

/** Turns margins (`rows * groups`) into predictions in place. */
export function transformMargins(link: Link, values: Float32Array, groups: number): void {
  switch (link) {
    case 'identity':
      return;
    case 'logistic':
      // Each step rounded to float32, as `1.0f / (1.0f + expf(-x))` (common/math.h `Sigmoid`):
      // predict_proba's `1 - p` magnifies a last-bit difference in p near 1.
      for (let i = 0; i < values.length; i++) {
        const e = Math.fround(Math.exp(-(values[i] ?? 0)));
        values[i] = Math.fround(1 / Math.fround(1 + e));
      }
      return;
    case 'log':
      for (let i = 0; i < values.length; i++) values[i] = Math.exp(values[i] ?? 0);
      return;
    case 'hinge':
      for (let i = 0; i < values.length; i++) values[i] = (values[i] ?? 0) > 0 ? 1 : 0;
      return;
    case 'softmax':
    case 'softmax-argmax':
      softmaxRows(values, groups);
  }
}

/** Softmax of each row, shifted by the row's maximum (common/math.h `Softmax`). */
export function softmaxRows(values: Float32Array, k: number): void {
  for (let start = 0; start < values.length; start += k) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, values[start + j] ?? 0);
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.fround(Math.exp((values[start + j] ?? 0) - max));
      values[start + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j++) values[start + j] = (values[start + j] ?? 0) / Math.fround(sum);
  }
}
