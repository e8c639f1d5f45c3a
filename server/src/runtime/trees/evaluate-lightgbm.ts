/**
 * Sums a forest's outputs over a batch of rows the way LightGBM's predictor does (include/LightGBM
 * tree.h `NumericalDecision`, `CategoricalDecision`, `Tree::Predict`), in double precision:
 * - numeric splits go left when `value <= threshold`; NaN counts as 0 unless the node's missing
 *   type is NaN; a missing value (NaN for type NaN, |value| <= 1e-35f for type Zero) takes the
 *   default child;
 * - categorical splits go left when the truncated value is in the node's bitset; NaN, negative
 *   and unseen categories go right;
 * - a linear leaf adds its constant plus coefficients times features, or its plain value when
 *   one of those features is NaN.
 */
import {
  type Forest,
  MISSING_SHIFT,
  NODE_CATEGORICAL,
  NODE_DEFAULT_LEFT,
  inCategorySet,
} from './forest.js';

const BLOCK_ROWS = 128;
/** LightGBM's kZeroThreshold (meta.h), a float. */
const ZERO_THRESHOLD = Math.fround(1e-35);
const MISSING_ZERO = 1;
const MISSING_NAN = 2;

/** What {@link accumulateLightgbm} reads. */
export interface LightgbmBatch {
  readonly data: Float32Array;
  readonly rows: number;
  readonly features: number;
  readonly treeBegin: number;
  readonly treeEnd: number;
}

/** Adds the outputs of trees [treeBegin, treeEnd) to `out` (`rows * groups` values). */
export function accumulateLightgbm(
  forest: Forest,
  batch: LightgbmBatch,
  out: Float64Array,
  groups: number,
): void {
  for (let start = 0; start < batch.rows; start += BLOCK_ROWS) {
    const end = Math.min(batch.rows, start + BLOCK_ROWS);
    for (let tree = batch.treeBegin; tree < batch.treeEnd; tree++) {
      const root = forest.root[tree]!;
      const group = forest.group[tree]!;
      const linear = forest.treeLinear?.[tree] === 1 ? forest.linear : undefined;
      for (let row = start; row < end; row++) {
        const offset = row * batch.features;
        const leaf = ~walk(forest, root, batch.data, offset);
        const value =
          linear === undefined
            ? forest.leafValue[leaf]!
            : linearLeaf(linear, forest.leafValue[leaf]!, leaf, batch.data, offset);
        out[row * groups + group] = out[row * groups + group]! + value;
      }
    }
  }
}

function walk(forest: Forest, root: number, data: Float32Array, offset: number): number {
  const { feature, threshold, left, right, flags } = forest;
  let node = root;
  while (node >= 0) {
    let value = data[offset + feature[node]!]!;
    const flag = flags[node]!;
    if ((flag & NODE_CATEGORICAL) !== 0) {
      const category = Math.trunc(value);
      const goLeft = value === value && category >= 0 && inCategorySet(forest, node, category);
      node = goLeft ? left[node]! : right[node]!;
      continue;
    }
    const missingType = (flag >> MISSING_SHIFT) & 3;
    if (value !== value && missingType !== MISSING_NAN) value = 0;
    const isMissing =
      missingType === MISSING_NAN
        ? value !== value
        : missingType === MISSING_ZERO && value >= -ZERO_THRESHOLD && value <= ZERO_THRESHOLD;
    if (isMissing) node = (flag & NODE_DEFAULT_LEFT) !== 0 ? left[node]! : right[node]!;
    else node = value <= threshold[node]! ? left[node]! : right[node]!;
  }
  return node;
}

function linearLeaf(
  linear: NonNullable<Forest['linear']>,
  plain: number,
  leaf: number,
  data: Float32Array,
  offset: number,
): number {
  let output = linear.constant[leaf]!;
  for (let i = linear.start[leaf]!; i < linear.start[leaf + 1]!; i++) {
    const value = data[offset + linear.feature[i]!]!;
    if (value !== value) return plain;
    output += linear.coeff[i]! * value;
  }
  return output;
}
