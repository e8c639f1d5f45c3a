/**
 * Conversions between the core's tensors and onnxruntime's, shared by the in-process session and
 * the worker-thread session. Tensors cross threads as {@link PortableTensor}: plain typed arrays
 * that structured clone (or transfer) without copying element by element.
 */
import type * as ort from 'onnxruntime-node';
import { ErrorCode, ServerError, invalidInput, shorten } from '../errors.js';
import type { Datatype } from '../core/datatype.js';
import type { Tensor, TensorMetadata, TensorValues } from '../core/types.js';

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

type NumericValues = Exclude<TensorValues, readonly Uint8Array[]>;

/** A tensor in onnxruntime's terms, cloneable across threads. */
export interface PortableTensor {
  readonly name: string;
  readonly type: ort.Tensor.Type;
  readonly dims: readonly number[];
  readonly data: NumericValues | string[];
}

/** Metadata of one model value, cloneable across threads. */
export interface PortableMetadata {
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

// fatal: invalid UTF-8 is refused, not replaced; ignoreBOM: a leading U+FEFF is data, not dropped.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** V2 metadata of one ONNX value; non-tensors (maps, sequences) are refused with advice. */
export function toTensorMetadata(meta: ort.InferenceSession.ValueMetadata): TensorMetadata {
  if (!meta.isTensor) {
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `ONNX value '${meta.name}' is not a tensor (sequences and maps are not supported; export classifiers with zipmap disabled)`,
    );
  }
  const datatype = ORT_TO_V2[meta.type];
  if (datatype === undefined) {
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `ONNX tensor '${meta.name}' has unsupported type ${meta.type}`,
    );
  }
  return {
    name: meta.name,
    datatype,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

/**
 * One BYTES element as the JS string onnxruntime-node takes for a string tensor. The binding
 * converts JS strings to UTF-8 and hands them to the C API as NUL-terminated strings
 * (`FillStringTensor`), so an element with a NUL byte would reach the model cut short and bytes
 * that are not UTF-8 would be replaced. No encoding survives that without changing what the model
 * sees, so such elements are refused with the reason instead of being silently altered.
 */
function toOrtString(name: string, index: number, bytes: Uint8Array): string {
  if (bytes.includes(0)) {
    throw invalidInput(
      `input '${shorten(name)}': BYTES element ${index} contains a NUL byte, which the ONNX runtime cannot pass to a model (onnxruntime-node ends strings at NUL)`,
    );
  }
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw invalidInput(
      `input '${shorten(name)}': BYTES element ${index} is not valid UTF-8; the ONNX runtime passes string tensors to a model as UTF-8 text`,
    );
  }
}

/** A core tensor in onnxruntime's terms (BYTES become strings, which is what ORT takes). */
export function toPortable(tensor: Tensor): PortableTensor {
  const type = V2_TO_ORT[tensor.datatype];
  if (type === undefined)
    throw new Error(`datatype ${tensor.datatype} is not supported by ONNX Runtime`);
  if (type === 'string') {
    const strings = (tensor.data as readonly Uint8Array[]).map((b, i) =>
      toOrtString(tensor.name, i, b),
    );
    return { name: tensor.name, type, dims: tensor.shape, data: strings };
  }
  return { name: tensor.name, type, dims: tensor.shape, data: tensor.data as NumericValues };
}

/** An onnxruntime output as a core tensor. */
export function fromPortable(tensor: PortableTensor): Tensor {
  const datatype = ORT_TO_V2[tensor.type];
  if (datatype === undefined)
    throw new Error(`output '${tensor.name}' has unsupported type ${tensor.type}`);
  const shape = [...tensor.dims];
  if (datatype === 'BYTES') {
    return {
      name: tensor.name,
      datatype,
      shape,
      data: (tensor.data as string[]).map((s) => utf8Encoder.encode(s)),
    };
  }
  return { name: tensor.name, datatype, shape, data: tensor.data as NumericValues };
}

/** Opens a session from a file or from model bytes (a model rewritten at load, onnx-zipmap.ts). */
export function openSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  ortModule: typeof ort,
): Promise<ort.InferenceSession> {
  return typeof model === 'string'
    ? ortModule.InferenceSession.create(model, options)
    : ortModule.InferenceSession.create(model, options);
}

/** Runs a session on portable feeds and returns portable outputs. */
export async function runSession(
  ortModule: typeof ort,
  session: ort.InferenceSession,
  feeds: readonly PortableTensor[],
  outputNames: readonly string[],
): Promise<PortableTensor[]> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const feed of feeds) {
    const tensor = new ortModule.Tensor(feed.type, feed.data, feed.dims);
    if (feed.type === 'float16') keepFloat16Bits(tensor, feed.data as Uint16Array);
    inputs[feed.name] = tensor;
  }
  const results = await session.run(inputs, outputNames);
  return outputNames.map((name) => {
    const value = results[name];
    if (value === undefined) throw new Error(`the model returned no output '${name}'`);
    const data = value.type === 'float16' ? float16Bits(value.data) : value.data;
    return { name, type: value.type, dims: [...value.dims], data };
  });
}

/**
 * Where the JavaScript runtime has Float16Array (Node 24), onnxruntime-common wraps float16 data
 * given as a Uint16Array of IEEE 754 half bits in a Float16Array view; onnxruntime-node's native
 * binding does not recognise that typed array and reads no bytes ("not enough space: expected 8,
 * got 0"). Handing it back the Uint16Array (the same bytes) is what it reads correctly.
 */
function keepFloat16Bits(tensor: ort.Tensor, bits: Uint16Array): void {
  (tensor as unknown as { cpuData: unknown }).cpuData = bits;
}

/** FP16 output data as half-precision bits (a Uint16Array view of the same bytes). */
function float16Bits(data: ort.Tensor['data']): NumericValues {
  const view = data as unknown as ArrayBufferView;
  return new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
}

/** The portable metadata of a session. */
export function sessionMetadata(session: ort.InferenceSession): PortableMetadata {
  return {
    inputs: session.inputMetadata.map(toTensorMetadata),
    outputs: session.outputMetadata.map(toTensorMetadata),
  };
}
