/**
 * The XGBoost engine module (runtime/engine.ts): reads a JSON or UBJSON model and evaluates it in
 * TypeScript. Outputs follow MLServer's XGBoost runtime, which loads a model through the
 * scikit-learn interface (XGBRegressor, or XGBClassifier when the model says it is one):
 * - `predict`: a regressor's (or plain Booster's) transformed prediction, FP32; a classifier's
 *   class labels, INT64 (INT32 for multi:softmax, as XGBClassifier returns);
 * - `predict_proba`: a classifier's class probabilities, FP32 `[-1, classes]`.
 * Both honour early stopping's `best_iteration`, as the scikit-learn interface does, unless
 * `parameters.extra.iteration_range` says otherwise.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { accumulateXgboost } from '../trees/evaluate-xgboost.js';
import { forestBytes } from '../trees/forest.js';
import {
  ModelFormatError,
  PREDICT,
  PREDICT_PROBA,
  argmaxRows,
  twoClassProba,
  type TreeEngine,
  type TreeMetadata,
  type TreeOpenArgs,
  type TreeOutputSpec,
  type TreeRequest,
  type TreeTensor,
} from '../trees/tree-engine.js';
import { readXgboostDocument } from './xgboost-document.js';
import { parseXgboostModel, type XgboostModel } from './xgboost-model.js';
import { softmaxRows, transformMargins } from './xgboost-objective.js';

/** Opens a model file (the engine module's entry point). */
export async function open(args: TreeOpenArgs): Promise<TreeEngine> {
  const name = basename(args.file);
  const bytes = await readFile(args.file);
  return createXgboostEngine(parseXgboostModel(readXgboostDocument(bytes, name)), args.extra);
}

/** Trees [begin, end) for prediction: `iteration_range`, else up to `best_iteration`, else all. */
function treeRange(model: XgboostModel, extra: TreeOpenArgs['extra']): [number, number] {
  const starts = model.iterationStart;
  const iterations = starts.length - 1;
  const range = extra['iteration_range'];
  let [begin, end] = [0, model.bestIteration === undefined ? iterations : model.bestIteration + 1];
  if (range !== undefined) {
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((v) => Number.isInteger(v) && (v as number) >= 0)
    ) {
      throw new ModelFormatError(
        'parameters.extra.iteration_range must be [begin, end], two non-negative integers',
      );
    }
    [begin, end] = range as [number, number];
    if (end === 0) end = iterations;
  }
  if (begin > end || end > iterations) {
    throw new ModelFormatError(
      `iteration range [${begin}, ${end}) is outside the model's ${iterations} iterations`,
    );
  }
  return [starts[begin] ?? 0, starts[end] ?? 0];
}

/** Builds the engine for a parsed model. */
export function createXgboostEngine(model: XgboostModel, extra: TreeOpenArgs['extra']): TreeEngine {
  const [treeBegin, treeEnd] = treeRange(model, extra);
  const metadata = xgboostMetadata(model, treeEnd - treeBegin);
  const margins = (request: TreeRequest): Float32Array => {
    const out = new Float32Array(request.rows * model.groups);
    for (let row = 0; row < request.rows; row++) out.set(model.baseMargins, row * model.groups);
    accumulateXgboost(
      model.forest,
      {
        data: request.data,
        rows: request.rows,
        features: model.features,
        missing: model.missing,
        treeBegin,
        treeEnd,
      },
      out,
      model.groups,
    );
    return out;
  };
  return {
    metadata,
    run(request) {
      const margin = margins(request);
      return request.outputs.map((name) =>
        name === PREDICT_PROBA
          ? proba(model, margin, request.rows)
          : predict(model, margin, request.rows),
      );
    },
  };
}

/** Booster-style prediction: transformed margins, or argmax for multi:softmax. */
function boosterPrediction(model: XgboostModel, margin: Float32Array, rows: number): Float32Array {
  const values = margin.slice();
  transformMargins(model.link, values, model.groups);
  if (model.link !== 'softmax-argmax') return values;
  return Float32Array.from(argmaxRows(values, rows, model.groups), Number);
}

function predict(model: XgboostModel, margin: Float32Array, rows: number): TreeTensor {
  const values = boosterPrediction(model, margin, rows);
  if (!model.classifier) {
    const columns = values.length / Math.max(rows, 1) || 1;
    return { name: PREDICT, datatype: 'FP32', shape: [rows, columns], data: values };
  }
  if (model.link === 'softmax-argmax') {
    return { name: PREDICT, datatype: 'INT32', shape: [rows, 1], data: Int32Array.from(values) };
  }
  const labels =
    model.groups > 1
      ? argmaxRows(values, rows, model.groups)
      : BigInt64Array.from(values, (p) => (p > 0.5 ? 1n : 0n));
  return { name: PREDICT, datatype: 'INT64', shape: [rows, 1], data: labels };
}

function proba(model: XgboostModel, margin: Float32Array, rows: number): TreeTensor {
  if (model.link === 'softmax-argmax') {
    const values = margin.slice();
    softmaxRows(values, model.groups);
    return { name: PREDICT_PROBA, datatype: 'FP32', shape: [rows, model.groups], data: values };
  }
  const values = boosterPrediction(model, margin, rows);
  if (model.groups > 1) {
    return { name: PREDICT_PROBA, datatype: 'FP32', shape: [rows, model.groups], data: values };
  }
  const data = twoClassProba(values, (n) => new Float32Array(n));
  return { name: PREDICT_PROBA, datatype: 'FP32', shape: [rows, 2], data };
}

function xgboostMetadata(model: XgboostModel, trees: number): TreeMetadata {
  const classes = model.groups > 1 ? model.groups : 2;
  const outputs: TreeOutputSpec[] = model.classifier
    ? [
        {
          name: PREDICT,
          datatype: model.link === 'softmax-argmax' ? 'INT32' : 'INT64',
          shape: [-1, 1],
        },
        { name: PREDICT_PROBA, datatype: 'FP32', shape: [-1, classes] },
      ]
    : [
        {
          name: PREDICT,
          datatype: 'FP32',
          shape: [-1, model.link === 'softmax-argmax' ? 1 : model.groups],
        },
      ];
  return {
    features: model.features,
    outputs,
    unavailableOutputs: model.classifier
      ? {}
      : {
          [PREDICT_PROBA]:
            `only classifiers have predict_proba; this XGBoost model (${model.objective}) was not ` +
            'saved by XGBClassifier, so it is served as a regressor, as MLServer does',
        },
    description: `${model.booster} ${model.objective}, ${trees} trees, ${model.features} features`,
    memoryBytes: forestBytes(model.forest) + model.baseMargins.byteLength,
  };
}
