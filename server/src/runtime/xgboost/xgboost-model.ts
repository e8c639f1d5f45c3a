/**
 * An XGBoost JSON/UBJSON document (xgboost doc/model.schema, 1.7 to 3.x) as a flat forest plus
 * what prediction needs: objective, base margins, the trees of each iteration, DART weights and
 * the scikit-learn estimator type MLServer's runtime decides `predict_proba` by.
 */
import {
  ForestBuilder,
  NODE_CATEGORICAL,
  NODE_DEFAULT_LEFT,
  type Forest,
} from '../trees/forest.js';
import { ModelFormatError } from '../trees/tree-engine.js';
import { parseXgboostJson } from './xgboost-document.js';
import { baseMargin, objectiveLink, type Link } from './xgboost-objective.js';

/** A parsed XGBoost model. */
export interface XgboostModel {
  readonly forest: Forest;
  readonly objective: string;
  readonly link: Link;
  readonly features: number;
  /** Output columns: classes (multi-class), targets (multi-target) or 1. */
  readonly groups: number;
  /** Per group, the margin every row starts from. */
  readonly baseMargins: Float32Array;
  /** Tree index where each iteration starts, plus the end (`iteration_indptr`). */
  readonly iterationStart: readonly number[];
  /** `best_iteration` from early stopping, which the scikit-learn interface predicts with. */
  readonly bestIteration?: number;
  /** Whether XGBClassifier saved the model (its `_estimator_type`); MLServer's rule for predict_proba. */
  readonly classifier: boolean;
  readonly missing: number;
  readonly booster: 'gbtree' | 'dart';
}

type Doc = Readonly<Record<string, unknown>>;

function object(value: unknown, path: string): Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFormatError(`not an XGBoost model: '${path}' is missing or not an object`);
  }
  return value as Doc;
}

function list(value: unknown, path: string): ArrayLike<number> {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return value as ArrayLike<number>;
  throw new ModelFormatError(`not an XGBoost model: '${path}' is missing or not an array`);
}

/** XGBoost writes most scalars as strings ("5E-1"), some as numbers. */
function scalar(value: unknown, path: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n)) {
    throw new ModelFormatError(`not an XGBoost model: '${path}' is not a number`);
  }
  return n;
}

/** `base_score`: "5E-1" (1.x, 2.x) or "[5E-1]" / "[a,b,c]" (3.x, one per class or target). */
function baseScores(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (typeof value !== 'string') throw new ModelFormatError('not an XGBoost model: no base_score');
  const text = value.trim();
  const items = text.startsWith('[') ? text.slice(1, -1).split(',') : [text];
  return items.map((item) => scalar(item, 'learner_model_param.base_score'));
}

/** Reads the document into a model; `name` is the file's base name, for messages. */
export function parseXgboostModel(doc: unknown): XgboostModel {
  const learner = object(object(doc, '(document)')['learner'], 'learner');
  const params = object(learner['learner_model_param'], 'learner.learner_model_param');
  const objectiveDoc = object(learner['objective'], 'learner.objective');
  const objective = String(objectiveDoc['name']);
  const link = objectiveLink(objective);
  const booster = object(learner['gradient_booster'], 'learner.gradient_booster');
  const boosterName = String(booster['name']);
  if (boosterName !== 'gbtree' && boosterName !== 'dart') {
    throw new ModelFormatError(
      `the XGBoost booster '${boosterName}' is not supported (gbtree and dart are)`,
    );
  }
  const model = object(
    boosterName === 'dart' ? object(booster['gbtree'], 'gbtree')['model'] : booster['model'],
    'gradient_booster.model',
  );
  const features = scalar(params['num_feature'], 'learner_model_param.num_feature');
  const numClass = scalar(params['num_class'] ?? '0', 'learner_model_param.num_class');
  const numTarget = scalar(params['num_target'] ?? '1', 'learner_model_param.num_target');
  const groups = Math.max(1, numClass, numTarget);
  const trees = readTrees(
    model,
    groups,
    boosterName === 'dart' ? booster['weight_drop'] : undefined,
  );
  const scores = baseScores(params['base_score']);
  const baseMargins = Float32Array.from({ length: groups }, (_, g) =>
    baseMargin(link, scores[Math.min(g, scores.length - 1)] ?? 0.5),
  );
  const attributes = learner['attributes'];
  const attrs = typeof attributes === 'object' && attributes !== null ? (attributes as Doc) : {};
  const best = attrs['best_iteration'];
  const sklearn = sklearnMeta(attrs['scikit_learn']);
  return {
    forest: trees.forest,
    objective,
    link,
    features,
    groups,
    baseMargins,
    iterationStart: trees.iterationStart,
    ...(best === undefined ? {} : { bestIteration: scalar(best, 'attributes.best_iteration') }),
    classifier: sklearn['_estimator_type'] === 'classifier',
    missing: typeof sklearn['missing'] === 'number' ? sklearn['missing'] : Number.NaN,
    booster: boosterName,
  };
}

function sklearnMeta(value: unknown): Doc {
  if (typeof value !== 'string') return {};
  try {
    const parsed = parseXgboostJson(value);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Doc) : {};
  } catch {
    return {};
  }
}

function readTrees(
  model: Doc,
  groups: number,
  weightDrop: unknown,
): { forest: Forest; iterationStart: number[] } {
  const treeDocs = model['trees'];
  if (!Array.isArray(treeDocs)) throw new ModelFormatError('not an XGBoost model: no trees');
  const info = list(model['tree_info'], 'gradient_booster.model.tree_info');
  const weights = weightDrop === undefined ? undefined : list(weightDrop, 'weight_drop');
  const leafSize = Math.max(1, ...treeDocs.map((t) => leafSizeOf(object(t, 'trees[]'))));
  const builder = new ForestBuilder(leafSize);
  treeDocs.forEach((tree, index) => {
    const doc = object(tree, `trees[${index}]`);
    builder.addTree(
      treeSpec(doc, leafSizeOf(doc) > 1 ? -1 : (info[index] ?? 0), weights?.[index] ?? 1),
    );
  });
  return {
    forest: builder.build(),
    iterationStart: iterationStarts(model, treeDocs.length, groups, leafSize),
  };
}

function leafSizeOf(tree: Doc): number {
  const param = object(tree['tree_param'], 'tree_param');
  return scalar(param['size_leaf_vector'] ?? '1', 'tree_param.size_leaf_vector') || 1;
}

/** Tree index where each iteration starts: `iteration_indptr` (2.x+) or from the tree counts. */
function iterationStarts(model: Doc, trees: number, groups: number, leafSize: number): number[] {
  const indptr = model['iteration_indptr'];
  if (Array.isArray(indptr) || ArrayBuffer.isView(indptr)) {
    return Array.from(indptr as ArrayLike<number>, Number);
  }
  const param = object(model['gbtree_model_param'], 'gbtree_model_param');
  const parallel = scalar(param['num_parallel_tree'] ?? '1', 'num_parallel_tree') || 1;
  const perIteration = (leafSize > 1 ? 1 : groups) * parallel;
  const starts: number[] = [];
  for (let start = 0; start <= trees; start += perIteration) starts.push(start);
  if (starts[starts.length - 1] !== trees) starts.push(trees);
  return starts;
}

function treeSpec(
  tree: Doc,
  group: number,
  weight: number,
): Parameters<ForestBuilder['addTree']>[0] {
  const left = list(tree['left_children'], 'left_children');
  const right = list(tree['right_children'], 'right_children');
  const feature = list(tree['split_indices'], 'split_indices');
  const conditions = list(tree['split_conditions'], 'split_conditions');
  const defaultLeft = list(tree['default_left'], 'default_left');
  const splitType = tree['split_type'] === undefined ? [] : list(tree['split_type'], 'split_type');
  const baseWeights = list(tree['base_weights'], 'base_weights');
  const size = leafSizeOf(tree);
  const count = left.length;
  if ([right, feature, conditions, defaultLeft].some((a) => a.length !== count)) {
    throw new ModelFormatError('not an XGBoost model: a tree has arrays of different lengths');
  }
  const flags = new Uint8Array(count);
  for (let node = 0; node < count; node++) {
    flags[node] =
      (defaultLeft[node] === 1 ? NODE_DEFAULT_LEFT : 0) |
      (splitType[node] === 1 ? NODE_CATEGORICAL : 0);
  }
  return {
    left,
    right,
    feature,
    // float32 thresholds, compared with float32 features as XGBoost does.
    threshold: Float32Array.from(conditions),
    flags,
    categories: categorySets(tree),
    leafValue: (node, out) => {
      if (size === 1) out.push(Math.fround(conditions[node] ?? 0));
      else for (let k = 0; k < size; k++) out.push(Math.fround(baseWeights[node * size + k] ?? 0));
    },
    group,
    weight,
  };
}

/** `categories_nodes[j]`'s categories are `categories[segments[j] .. + sizes[j]]`. */
function categorySets(tree: Doc): Map<number, number[]> {
  const sets = new Map<number, number[]>();
  if (tree['categories_nodes'] === undefined) return sets;
  const nodes = list(tree['categories_nodes'], 'categories_nodes');
  const segments = list(tree['categories_segments'], 'categories_segments');
  const sizes = list(tree['categories_sizes'], 'categories_sizes');
  const categories = list(tree['categories'], 'categories');
  for (let j = 0; j < nodes.length; j++) {
    const start = segments[j] ?? 0;
    const end = start + (sizes[j] ?? 0);
    const set: number[] = [];
    for (let i = start; i < end; i++) set.push(categories[i] ?? 0);
    sets.set(nodes[j] ?? 0, set);
  }
  return sets;
}
