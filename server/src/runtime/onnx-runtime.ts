/**
 * ONNX models through onnxruntime-node, the only importer of that package. Metadata (names,
 * datatypes, shapes) comes from the model itself, so a model-settings.json needs no `inputs`.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../errors.js';
import type { Datatype } from '../core/datatype.js';
import type { InstanceMetadata, ModelInstance, ModelRuntime, RuntimeResult } from '../core/model-runtime.js';
import type { ModelSettings } from '../core/model-settings.js';
import type { DecodedRequest, Tensor, TensorMetadata, TensorValues } from '../core/types.js';

const ORT_TO_V2: Readonly<Record<string, Datatype>> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
};

const V2_TO_ORT: Readonly<Partial<Record<Datatype, ort.Tensor.Type>>> = {
  FP32: 'float32',
  FP64: 'float64',
  FP16: 'float16',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  BOOL: 'bool',
  BYTES: 'string',
};

/** File names looked for when `parameters.uri` names a folder. */
const WELL_KNOWN_FILES = ['model.onnx', 'model.ort'];

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** The ONNX runtime. `extra.intra_op_threads` and `extra.inter_op_threads` tune the session. */
export const onnxRuntime: ModelRuntime = {
  name: 'onnx',
  aliases: ['tessera.onnx', 'mlserver_onnx.OnnxModel', 'onnxruntime'],
  async load(settings: ModelSettings): Promise<ModelInstance> {
    const file = await resolveModelFile(settings);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, sessionOptions(settings));
    } catch (error) {
      throw new ServerError(
        ErrorCode.MODEL_LOAD_FAILED,
        `${settings.source}: the ONNX file could not be loaded: ${redactPaths(getErrorMessage(error))}`,
      );
    }
    return new OnnxInstance(session);
  },
};

function sessionOptions(settings: ModelSettings): ort.InferenceSession.SessionOptions {
  const intra = settings.extra['intra_op_threads'];
  const inter = settings.extra['inter_op_threads'];
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    ...(typeof intra === 'number' ? { intraOpNumThreads: intra } : {}),
    ...(typeof inter === 'number' ? { interOpNumThreads: inter } : {}),
  };
}

async function resolveModelFile(settings: ModelSettings): Promise<string> {
  const info = await stat(settings.uri).catch(() => undefined);
  if (info?.isFile() === true) return settings.uri;
  if (info?.isDirectory() === true) {
    for (const name of WELL_KNOWN_FILES) {
      const candidate = join(settings.uri, name);
      if ((await stat(candidate).catch(() => undefined))?.isFile() === true) return candidate;
    }
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `${settings.source}: no ${WELL_KNOWN_FILES.join(' or ')} found in the model folder; set parameters.uri`,
    );
  }
  throw new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${settings.source}: parameters.uri: no such file`);
}

function toTensorMetadata(meta: ort.InferenceSession.ValueMetadata): TensorMetadata {
  if (!meta.isTensor) {
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `ONNX value '${meta.name}' is not a tensor (sequences and maps are not supported; export classifiers with zipmap disabled)`,
    );
  }
  const datatype = ORT_TO_V2[meta.type];
  if (datatype === undefined) {
    throw new ServerError(ErrorCode.MODEL_LOAD_FAILED, `ONNX tensor '${meta.name}' has unsupported type ${meta.type}`);
  }
  return { name: meta.name, datatype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

class OnnxInstance implements ModelInstance {
  readonly metadata: InstanceMetadata;
  readonly #session: ort.InferenceSession;

  constructor(session: ort.InferenceSession) {
    this.#session = session;
    this.metadata = {
      platform: 'onnx_onnxv1',
      inputs: session.inputMetadata.map(toTensorMetadata),
      outputs: session.outputMetadata.map(toTensorMetadata),
    };
  }

  async infer(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): Promise<RuntimeResult> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of request.inputs) feeds[input.name] = toOrtTensor(input);
    const names = options.outputNames ?? this.metadata.outputs.map((o) => o.name);
    const results = await this.#session.run(feeds, names);
    const outputs: Tensor[] = names.map((name) => {
      const value = results[name];
      if (value === undefined) throw new Error(`the model returned no output '${name}'`);
      return fromOrtTensor(name, value);
    });
    return { outputs };
  }

  async unload(): Promise<void> {
    await this.#session.release();
  }
}

function toOrtTensor(tensor: Tensor): ort.Tensor {
  const type = V2_TO_ORT[tensor.datatype];
  if (type === undefined) throw new Error(`datatype ${tensor.datatype} is not supported by ONNX Runtime`);
  const dims = tensor.shape;
  if (type === 'string') {
    const strings = (tensor.data as readonly Uint8Array[]).map((b) => utf8Decoder.decode(b));
    return new ort.Tensor('string', strings, dims);
  }
  return new ort.Tensor(type, tensor.data as Exclude<TensorValues, readonly Uint8Array[]>, dims);
}

function fromOrtTensor(name: string, value: ort.Tensor): Tensor {
  const datatype = ORT_TO_V2[value.type];
  if (datatype === undefined) throw new Error(`output '${name}' has unsupported type ${value.type}`);
  const shape = [...value.dims];
  if (datatype === 'BYTES') {
    const strings = value.data as string[];
    return { name, datatype, shape, data: strings.map((s) => utf8Encoder.encode(s)) };
  }
  return { name, datatype, shape, data: value.data as Exclude<TensorValues, readonly Uint8Array[]> };
}
