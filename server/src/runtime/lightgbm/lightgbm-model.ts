/**
 * LightGBM's text model format (what `Booster.save_model` writes, `.txt` or `.bst`; src/io/
 * gbdt_model_text.cpp, src/io/tree.cpp): a header of `key=value` lines, then `Tree=<i>` blocks of
 * space-separated arrays, `end of trees`, and feature importances and parameters we do not need.
 * Leaves are referenced as `~leaf` (negative) children, which the forest builder renumbers.
 */
import {
  ForestBuilder,
  MISSING_SHIFT,
  NODE_CATEGORICAL,
  NODE_DEFAULT_LEFT,
  type Forest,
  type LinearLeaves,
} from '../trees/forest.js';
import { ModelFormatError } from '../trees/tree-engine.js';

/** A parsed LightGBM model. */
export interface LightgbmModel {
  readonly forest: Forest;
  /** The objective line, e.g. `binary sigmoid:1`, `multiclass num_class:3`. */
  readonly objective: string;
  readonly features: number;
  /** Trees per iteration: one per class for multi-class models, else 1. */
  readonly groups: number;
  readonly iterations: number;
  /** Random forest mode: the sum is divided by the number of iterations. */
  readonly averageOutput: boolean;
}

type Section = ReadonlyMap<string, string>;

/** Splits `key=value` lines into a map (the header, or one tree's block). */
function section(lines: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 1));
    else if (line.trim() !== '') map.set(line.trim(), '');
  }
  return map;
}

function numbers(tree: Section, key: string, where: string, expected?: number): Float64Array {
  const text = tree.get(key);
  if (text === undefined)
    throw new ModelFormatError(`not a LightGBM model: ${where} has no ${key}`);
  const parts = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const out = new Float64Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const value = Number(parts[i]);
    // LightGBM writes inf as "inf"/"-inf" in thresholds of some versions.
    out[i] = Number.isNaN(value) ? parseSpecial(parts[i] ?? '', key, where) : value;
  }
  if (expected !== undefined && out.length !== expected) {
    throw new ModelFormatError(
      `not a LightGBM model (is it truncated?): ${where}: ${key} has ${out.length} values, expected ${expected}`,
    );
  }
  return out;
}

function parseSpecial(text: string, key: string, where: string): number {
  const lower = text.toLowerCase();
  if (lower === 'inf' || lower === '+inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  throw new ModelFormatError(`not a LightGBM model: ${where}: ${key} has '${text.slice(0, 20)}'`);
}

function integer(map: Section, key: string, where: string): number {
  const value = Number(map.get(key));
  if (!Number.isInteger(value) || value < 0) {
    throw new ModelFormatError(`not a LightGBM model: ${where} has no valid ${key}`);
  }
  return value;
}

/** Parses the text of a model file. */
export function parseLightgbmModel(text: string): LightgbmModel {
  if (!/^tree\r?\n/.test(text)) throw new ModelFormatError('not a LightGBM text model');
  const end = text.indexOf('end of trees');
  if (end < 0)
    throw new ModelFormatError(
      "not a complete LightGBM model (no 'end of trees'; is it truncated?)",
    );
  const blocks = text.slice(0, end).split(/\r?\n(?=Tree=\d+)/);
  const header = section((blocks[0] ?? '').split(/\r?\n/));
  const groups = integer(header, 'num_tree_per_iteration', 'the header');
  const features = integer(header, 'max_feature_idx', 'the header') + 1;
  const objective = header.get('objective') ?? 'regression';
  const builder = new ForestBuilder(1);
  const linear: LinearParts = { constant: [], start: [0], feature: [], coeff: [] };
  const treeLinear: number[] = [];
  const trees = blocks.slice(1);
  trees.forEach((block, index) => {
    const tree = section(block.split(/\r?\n/));
    const isLinear = addTree(builder, tree, `Tree=${index}`, index % Math.max(groups, 1), linear);
    treeLinear.push(isLinear ? 1 : 0);
  });
  if (groups === 0 || trees.length % groups !== 0) {
    throw new ModelFormatError(
      `not a LightGBM model: ${trees.length} trees for ${groups} per iteration`,
    );
  }
  const anyLinear = treeLinear.includes(1);
  return {
    forest: builder.build(
      anyLinear
        ? {
            linear: packLinear(linear),
            treeLinear: Uint8Array.from(treeLinear),
          }
        : {},
    ),
    objective,
    features,
    groups,
    iterations: trees.length / groups,
    averageOutput: header.has('average_output'),
  };
}

interface LinearParts {
  constant: number[];
  start: number[];
  feature: number[];
  coeff: number[];
}

function packLinear(parts: LinearParts): LinearLeaves {
  return {
    constant: Float64Array.from(parts.constant),
    start: Int32Array.from(parts.start),
    feature: Int32Array.from(parts.feature),
    coeff: Float64Array.from(parts.coeff),
  };
}

/** Adds one `Tree=` block; returns whether its leaves are linear. */
function addTree(
  builder: ForestBuilder,
  tree: Section,
  where: string,
  group: number,
  linear: LinearParts,
): boolean {
  const leaves = integer(tree, 'num_leaves', where);
  const internal = Math.max(0, leaves - 1);
  const leafValue = numbers(tree, 'leaf_value', where, leaves);
  const firstLeaf = builder.leafCount;
  if (leaves <= 1) {
    builder.addTree(singleLeaf(leafValue[0] ?? 0, group));
  } else {
    builder.addTree(internalTree(tree, where, internal, leafValue, group));
  }
  const isLinear = tree.get('is_linear') === '1';
  addLinearLeaves(tree, where, leaves, firstLeaf, isLinear, linear);
  return isLinear;
}

function singleLeaf(value: number, group: number): Parameters<ForestBuilder['addTree']>[0] {
  return {
    left: [-1],
    right: [-1],
    feature: [0],
    threshold: [0],
    flags: [0],
    leafValue: (_node, out) => out.push(value),
    group,
    weight: 1,
  };
}

/**
 * Source numbering for the builder: internal nodes 0..n-2 as LightGBM numbers them, then leaf i
 * as node n-1+i.
 */
function internalTree(
  tree: Section,
  where: string,
  internal: number,
  leafValue: Float64Array,
  group: number,
): Parameters<ForestBuilder['addTree']>[0] {
  const count = internal + leafValue.length;
  const feature = numbers(tree, 'split_feature', where, internal);
  const threshold = numbers(tree, 'threshold', where, internal);
  const decision = numbers(tree, 'decision_type', where, internal);
  const leftChild = numbers(tree, 'left_child', where, internal);
  const rightChild = numbers(tree, 'right_child', where, internal);
  const source = (child: number): number => (child < 0 ? internal + ~child : child);
  const left = new Int32Array(count).fill(-1);
  const right = new Int32Array(count).fill(-1);
  const flags = new Uint8Array(count);
  const categories = new Map<number, number[]>();
  const bitsets = tree.has('cat_boundaries') ? categoryBitsets(tree, where) : [];
  for (let node = 0; node < internal; node++) {
    left[node] = source(leftChild[node] ?? 0);
    right[node] = source(rightChild[node] ?? 0);
    const type = decision[node] ?? 0;
    const categorical = (type & 1) !== 0;
    flags[node] =
      (categorical ? NODE_CATEGORICAL : 0) |
      ((type & 2) !== 0 ? NODE_DEFAULT_LEFT : 0) |
      (((type >> 2) & 3) << MISSING_SHIFT);
    if (categorical) categories.set(node, bitsets[threshold[node] ?? 0] ?? []);
  }
  return {
    left,
    right,
    feature,
    threshold,
    flags,
    categories,
    leafValue: (node, out) => out.push(leafValue[node - internal] ?? 0),
    group,
    weight: 1,
  };
}

/** The category sets of a tree: `cat_threshold[cat_boundaries[i] .. cat_boundaries[i+1]]` bitsets. */
function categoryBitsets(tree: Section, where: string): number[][] {
  const boundaries = numbers(tree, 'cat_boundaries', where);
  const words = numbers(tree, 'cat_threshold', where);
  const sets: number[][] = [];
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const set: number[] = [];
    for (let w = boundaries[i] ?? 0; w < (boundaries[i + 1] ?? 0); w++) {
      const word = (words[w] ?? 0) >>> 0;
      const base = (w - (boundaries[i] ?? 0)) * 32;
      for (let bit = 0; bit < 32; bit++) if (((word >>> bit) & 1) === 1) set.push(base + bit);
    }
    sets.push(set);
  }
  return sets;
}

/**
 * Linear leaves (tree.cpp `Tree::ToString` with is_linear): `leaf_const` per leaf, `num_features`
 * per leaf, then `leaf_features` and `leaf_coeff` flattened in leaf order. Leaves of non-linear
 * trees get empty entries so the CSR stays indexed by global leaf.
 */
function addLinearLeaves(
  tree: Section,
  where: string,
  leaves: number,
  firstLeaf: number,
  isLinear: boolean,
  linear: LinearParts,
): void {
  while (linear.constant.length < firstLeaf) {
    linear.constant.push(0);
    linear.start.push(linear.feature.length);
  }
  if (!isLinear) {
    for (let i = 0; i < leaves; i++) {
      linear.constant.push(0);
      linear.start.push(linear.feature.length);
    }
    return;
  }
  const constant = numbers(tree, 'leaf_const', where, leaves);
  const counts = numbers(tree, 'num_features', where, leaves);
  const features = numbers(tree, 'leaf_features', where);
  const coeffs = numbers(tree, 'leaf_coeff', where, features.length);
  let at = 0;
  for (let leaf = 0; leaf < leaves; leaf++) {
    linear.constant.push(constant[leaf] ?? 0);
    for (let j = 0; j < (counts[leaf] ?? 0); j++, at++) {
      linear.feature.push(features[at] ?? 0);
      linear.coeff.push(coeffs[at] ?? 0);
    }
    linear.start.push(linear.feature.length);
  }
}
