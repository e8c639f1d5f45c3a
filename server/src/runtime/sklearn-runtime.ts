/**
 * `mlserver_sklearn.SKLearnModel` served without Python: MLServer's scikit-learn runtime loads a
 * joblib pickle, which only Python can read, so here the model folder must hold the model
 * converted to ONNX by skl2onnx, which the ONNX runtime serves. The model then behaves as
 * MLServer's runtime does (mlserver-features.md §22): requests are read MLServer's way
 * (core/codecs/decode-request.ts), outputs are `predict` (the default) and `predict_proba`
 * (classifiers), labelled `np`. A folder with only a pickle is served by the Python worker with
 * MLServer's own runtime when the server has a Python (docs/python-runtimes.md); without one it
 * fails to load with the conversion to run (or the setting to add), and the model goes
 * UNAVAILABLE with that reason while the rest keep serving.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { ErrorCode, ServerError, invalidInput } from '../errors.js';
import type {
  InstanceMetadata,
  ModelInstance,
  ModelRuntime,
  RuntimeResult,
} from '../core/model-runtime.js';
import type { ModelSettings } from '../core/model-settings.js';
import type { DecodedRequest, TensorMetadata } from '../core/types.js';
import { FILE_TYPES, detectModelFile, sklearnConversion } from './model-file-type.js';
import type { OnnxRuntime } from './onnx-runtime.js';
import { PREDICT, PREDICT_PROBA } from './trees/tree-engine.js';

/** Pickles MLServer's runtime looks for (mlserver_sklearn: model.joblib, model.pickle, model.pkl). */
const PICKLES = ['model.joblib', 'model.pickle', 'model.pkl'];

function loadFailed(source: string, message: string): ServerError {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${source}: ${message}`);
}

/** The folder holds a pickle and no ONNX file: only Python can serve it. */
class PickleOnly extends ServerError {}

/**
 * Creates the scikit-learn runtime on top of the ONNX runtime's sessions. `python` is the Python
 * worker's runtime when the server has a Python (python_executable or env_tarball): a folder
 * with only a pickle goes there, as MLServer would serve it; native still wins when an ONNX file
 * is present (issue: "where a native runtime can serve the same folder, native wins").
 */
export function createSklearnRuntime(onnx: OnnxRuntime, python?: ModelRuntime): ModelRuntime {
  return {
    name: 'sklearn',
    aliases: ['mlserver_sklearn.SKLearnModel', 'tessera.sklearn'],
    async load(settings: ModelSettings): Promise<ModelInstance> {
      // `serve_with: "native"` asks for Node explicitly: a pickle-only folder then fails.
      const native = settings.parameters['serve_with'] === 'native';
      const pythonHint =
        python === undefined
          ? 'Either set python_executable (TESSERA_PYTHON_EXECUTABLE) to a Python with mlserver and mlserver-sklearn, which then serves it as MLServer does (docs/python-runtimes.md), or'
          : 'parameters.serve_with is "native": remove it to serve the pickle with MLServer\'s runtime in the Python worker, or';
      let file: string;
      try {
        file = await findOnnxFile(settings, pythonHint);
      } catch (error) {
        if (error instanceof PickleOnly && python !== undefined && !native) {
          return python.load(settings);
        }
        throw error;
      }
      return new SklearnInstance(await onnx.openFile(file, settings));
    },
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/**
 * The ONNX file to serve: `parameters.uri` if it is one, else `<uri's name>.onnx` or `model.onnx`
 * next to it, else the folder's only `.onnx` file. Otherwise the load fails saying what is there.
 */
async function findOnnxFile(settings: ModelSettings, pythonHint: string): Promise<string> {
  const info = await stat(settings.uri).catch(() => undefined);
  if (info === undefined) throw loadFailed(settings.source, 'parameters.uri: no such file');
  const given = info.isFile() ? settings.uri : undefined;
  if (given !== undefined && (await kindOf(given, settings.source)) === 'onnx') return given;
  const folder = given === undefined ? settings.uri : dirname(given);
  const named =
    given === undefined ? [] : [join(folder, `${basename(given, extname(given))}.onnx`)];
  for (const candidate of [...named, join(folder, 'model.onnx')]) {
    if (await isFile(candidate)) return candidate;
  }
  const onnxFiles = (await readdir(folder).catch(() => [])).filter((f) => f.endsWith('.onnx'));
  const [only, ...more] = onnxFiles;
  if (only !== undefined && more.length === 0) return join(folder, only);
  if (more.length > 0) {
    throw loadFailed(
      settings.source,
      `the model folder holds several ONNX files (${onnxFiles.join(', ')}); set parameters.uri to the one to serve`,
    );
  }
  return refuse(settings, given, folder, pythonHint);
}

async function kindOf(file: string, source: string): Promise<keyof typeof FILE_TYPES> {
  try {
    return await detectModelFile(file);
  } catch {
    throw loadFailed(source, `${basename(file)} cannot be read (check its permissions)`);
  }
}

/** No ONNX file: says what the folder holds instead, with the way forward. */
async function refuse(
  settings: ModelSettings,
  given: string | undefined,
  folder: string,
  pythonHint: string,
): Promise<never> {
  const pickles = given === undefined ? PICKLES.map((p) => join(folder, p)) : [given];
  for (const candidate of pickles) {
    if (!(await isFile(candidate))) continue;
    const kind = await kindOf(candidate, settings.source);
    const name = basename(candidate);
    if (kind === 'pickle') {
      throw new PickleOnly(
        ErrorCode.MODEL_LOAD_FAILED,
        `${settings.source}: ${name} is a Python pickle/joblib file: a pickled scikit-learn model cannot run in Node (only Python can unpickle it). ${pythonHint}: ${sklearnConversion(name)}`,
      );
    }
    const { label, readBy } = FILE_TYPES[kind];
    throw loadFailed(
      settings.source,
      `${name} is ${label}, which the 'sklearn' implementation (scikit-learn models converted to ONNX) does not read${readBy === undefined ? '' : `; it is read by the '${readBy}' implementation`}`,
    );
  }
  throw loadFailed(
    settings.source,
    `no ONNX model found in the model folder (looked for model.onnx); ${sklearnConversion('model.joblib')}`,
  );
}

/**
 * skl2onnx's outputs under MLServer's names: a classifier's label and probabilities become
 * `predict` and `predict_proba`, a regressor's one output `predict`. Other layouts keep their
 * ONNX names.
 */
function mlserverOutputs(outputs: readonly TensorMetadata[]): Map<string, string> {
  const [first, second, ...rest] = outputs;
  if (first === undefined || rest.length > 0) return new Map<string, string>();
  if (second === undefined) return new Map([[PREDICT, first.name]]);
  const isLabel = first.shape.length <= 2 && first.datatype !== 'FP32';
  const isProba = second.datatype === 'FP32' && second.shape.length === 2;
  return isLabel && isProba
    ? new Map([
        [PREDICT, first.name],
        [PREDICT_PROBA, second.name],
      ])
    : new Map<string, string>();
}

/** An ONNX instance answering as MLServer's scikit-learn runtime. */
class SklearnInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #onnx: ModelInstance;
  /** MLServer output name → ONNX output name. */
  readonly #names: Map<string, string>;

  constructor(onnx: ModelInstance) {
    this.#onnx = onnx;
    const meta = onnx.metadata;
    this.#names = mlserverOutputs(meta.outputs);
    const byOnnx = new Map([...this.#names].map(([ours, theirs]) => [theirs, ours]));
    const renamed = this.#names.size > 0;
    this.metadata = {
      platform: 'sklearn',
      // Served natively through the folder's ONNX file; the Python worker's models say 'python'.
      parameters: { ...meta.parameters, runtime_path: 'native' },
      inputs: meta.inputs,
      outputs: renamed
        ? meta.outputs
            .filter((o) => byOnnx.has(o.name))
            .map((o) => ({ ...o, name: byOnnx.get(o.name) ?? o.name }))
        : meta.outputs,
      mlserverInputs: true,
      defaultContentType: 'np',
      ...(renamed && !this.#names.has(PREDICT_PROBA)
        ? {
            unavailableOutputs: {
              [PREDICT_PROBA]: 'only classifiers have predict_proba; this model has one output',
            },
          }
        : {}),
    };
  }

  async infer(
    request: DecodedRequest,
    options: { outputNames?: readonly string[]; signal?: AbortSignal },
  ): Promise<RuntimeResult> {
    if (this.#names.size === 0) return this.#onnx.infer(request, options);
    // MLServer returns `predict` unless outputs are requested.
    const wanted = options.outputNames ?? [PREDICT];
    const onnxNames = wanted.map((name) => {
      const mapped = this.#names.get(name);
      if (mapped === undefined) throw invalidInput(`unknown output '${name}'`);
      return mapped;
    });
    const result = await this.#onnx.infer(request, { ...options, outputNames: onnxNames });
    return {
      ...result,
      outputs: result.outputs.map((tensor, i) => ({ ...tensor, name: wanted[i] ?? tensor.name })),
    };
  }

  unload(): Promise<void> {
    return this.#onnx.unload();
  }
}
