/**
 * The LightGBM engine module (runtime/engine.ts): reads a text model and evaluates it in
 * TypeScript, in double precision as LightGBM does. Outputs:
 * - `predict`: what `Booster.predict` returns (MLServer's LightGBM runtime calls it): class
 *   probabilities for classifiers, transformed predictions otherwise, FP64 `[-1, k]`;
 * - `predict_proba`: classifiers only, `[1 - p, p]` for binary models, as LGBMClassifier.
 * `parameters.extra.num_iteration` limits the iterations used (0 or absent: all in the file, which
 * `save_model` already cut at the best iteration).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { accumulateLightgbm } from '../trees/evaluate-lightgbm.js';
import { forestBytes } from '../trees/forest.js';
import {
  ModelFormatError,
  PREDICT,
  PREDICT_PROBA,
  extraInteger,
  twoClassProba,
  type TreeEngine,
  type TreeMetadata,
  type TreeOpenArgs,
  type TreeRequest,
  type TreeTensor,
} from '../trees/tree-engine.js';
import { convertOutputs, lightgbmLink, type LightgbmLink } from './lightgbm-objective.js';
import { parseLightgbmModel, type LightgbmModel } from './lightgbm-model.js';

/** Opens a model file (the engine module's entry point). */
export async function open(args: TreeOpenArgs): Promise<TreeEngine> {
  const name = basename(args.file);
  const text = await readFile(args.file, 'utf8');
  let model: LightgbmModel;
  try {
    model = parseLightgbmModel(text);
  } catch (error) {
    if (error instanceof ModelFormatError) throw new ModelFormatError(`${name}: ${error.message}`);
    throw error;
  }
  return createLightgbmEngine(model, args.extra);
}

/** Builds the engine for a parsed model. */
export function createLightgbmEngine(
  model: LightgbmModel,
  extra: TreeOpenArgs['extra'],
): TreeEngine {
  const link = lightgbmLink(model.objective);
  const wanted = extraInteger(extra, 'num_iteration') ?? 0;
  const iterations = wanted === 0 ? model.iterations : Math.min(wanted, model.iterations);
  const groups = model.groups;
  const raw = (request: TreeRequest): Float64Array => {
    const out = new Float64Array(request.rows * groups);
    accumulateLightgbm(
      model.forest,
      {
        data: request.data,
        rows: request.rows,
        features: model.features,
        treeBegin: 0,
        treeEnd: iterations * groups,
      },
      out,
      groups,
    );
    if (model.averageOutput && iterations > 0)
      for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / iterations;
    return out;
  };
  return {
    metadata: lightgbmMetadata(model, link, iterations),
    run(request) {
      const values = raw(request);
      convertOutputs(link, values, groups);
      return request.outputs.map((name): TreeTensor => {
        if (name !== PREDICT_PROBA || groups > 1) {
          return { name, datatype: 'FP64', shape: [request.rows, groups], data: values };
        }
        const data = twoClassProba(values, (n) => new Float64Array(n));
        return { name, datatype: 'FP64', shape: [request.rows, 2], data };
      });
    },
  };
}

function lightgbmMetadata(
  model: LightgbmModel,
  link: LightgbmLink,
  iterations: number,
): TreeMetadata {
  const objective = model.objective.split(/\s+/)[0] ?? '';
  const classes = model.groups > 1 ? model.groups : 2;
  return {
    features: model.features,
    outputs: [
      { name: PREDICT, datatype: 'FP64', shape: [-1, model.groups] },
      ...(link.classifier
        ? [{ name: PREDICT_PROBA, datatype: 'FP64' as const, shape: [-1, classes] }]
        : []),
    ],
    unavailableOutputs: link.classifier
      ? {}
      : {
          [PREDICT_PROBA]: `only classifiers have predict_proba; this LightGBM model is a ${objective} model`,
        },
    description: `${objective}, ${iterations * model.groups} trees, ${model.features} features`,
    memoryBytes: forestBytes(model.forest),
  };
}
