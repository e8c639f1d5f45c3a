/**
 * Sums a forest's leaf values over a batch of rows the way XGBoost's CPU predictor does
 * (src/predictor/cpu_predictor.cc, src/predictor/predict_fn.h `GetNextNode`):
 * - a value is missing when it is NaN or equals the model's `missing`; it takes the default child;
 * - a numeric split goes left when `value < threshold` (both float32);
 * - a categorical split goes right when the category is in the node's set, and left otherwise,
 *   also for negative or non-representable categories (common/categorical.h `Decision`);
 * - sums are float32, tree by tree in model order, so results match the library's bit for bit
 *   in the common case.
 *
 * Trees are the outer loop over a block of rows: a tree's nodes stay in cache for the whole block.
 */
import { type Forest, NODE_CATEGORICAL, NODE_DEFAULT_LEFT, inCategorySet } from './forest.js';

/** Rows per block: large enough to amortise a tree's cache misses, small enough to stay in L2. */
const BLOCK_ROWS = 128;
/** XGBoost refuses categories at or beyond 2^24, the largest integer float32 holds exactly. */
const MAX_CATEGORY = 1 << 24;

/** What {@link accumulateXgboost} reads. */
export interface XgboostBatch {
  /** Row-major features, `rows * features` values. */
  readonly data: Float32Array;
  readonly rows: number;
  readonly features: number;
  /** The model's missing value (NaN is always missing). */
  readonly missing: number;
  /** Trees [begin, end) of the forest to use. */
  readonly treeBegin: number;
  readonly treeEnd: number;
}

/**
 * Adds the leaf values of trees [treeBegin, treeEnd) to `out` (`rows * groups` margins, already
 * holding the base margin). A tree with group -1 (multi-output) adds its leaf vector to every group.
 */
export function accumulateXgboost(
  forest: Forest,
  batch: XgboostBatch,
  out: Float32Array,
  groups: number,
): void {
  for (let start = 0; start < batch.rows; start += BLOCK_ROWS) {
    const end = Math.min(batch.rows, start + BLOCK_ROWS);
    for (let tree = batch.treeBegin; tree < batch.treeEnd; tree++) {
      const root = forest.root[tree]!;
      const group = forest.group[tree]!;
      const weight = forest.weight[tree]!;
      for (let row = start; row < end; row++) {
        const leaf = ~walk(forest, root, batch, row * batch.features);
        addLeaf(forest, leaf, weight, group, groups, out, row * groups);
      }
    }
  }
}

function walk(forest: Forest, root: number, batch: XgboostBatch, offset: number): number {
  const { feature, threshold, left, right, flags } = forest;
  const data = batch.data;
  const missing = batch.missing;
  let node = root;
  while (node >= 0) {
    const value = data[offset + feature[node]!]!;
    const flag = flags[node]!;
    if (value !== value || value === missing) {
      node = (flag & NODE_DEFAULT_LEFT) !== 0 ? left[node]! : right[node]!;
    } else if ((flag & NODE_CATEGORICAL) !== 0) {
      const valid = value >= 0 && value < MAX_CATEGORY;
      node = valid && inCategorySet(forest, node, Math.trunc(value)) ? right[node]! : left[node]!;
    } else {
      node = value < threshold[node]! ? left[node]! : right[node]!;
    }
  }
  return node;
}

function addLeaf(
  forest: Forest,
  leaf: number,
  weight: number,
  group: number,
  groups: number,
  out: Float32Array,
  at: number,
): void {
  const size = forest.leafSize;
  if (size === 1) {
    // float32 product and sum, as XGBoost's `predts += w * leaf` in float.
    out[at + group] = out[at + group]! + Math.fround(weight * forest.leafValue[leaf]!);
    return;
  }
  for (let k = 0; k < groups; k++) {
    out[at + k] = out[at + k]! + Math.fround(weight * forest.leafValue[leaf * size + k]!);
  }
}
