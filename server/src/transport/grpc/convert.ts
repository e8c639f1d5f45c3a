/**
 * Protobuf ⇄ core conversion for the gRPC adapter (MLServer grpc/converters.py pairs). Raw
 * contents rules follow Triton's grpc_service.proto comments: one `raw_input_contents` entry per
 * input, in order, and then no input may also carry typed `contents`.
 */
import { invalidInput, shorten } from '../../errors.js';
import { toRawBytes } from '../../core/tensor-encode.js';
import { placeOf } from '../../core/system-shared-memory.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  Parameters,
  RepositoryIndexEntry,
  RequestInput,
  Tensor,
  TensorValues,
  WireData,
} from '../../core/types.js';
import type { Datatype } from '../../core/datatype.js';
import type {
  InferParameter,
  InferParameter__Output,
} from '../../generated/inference/InferParameter.js';
import type {
  InferTensorContents,
  InferTensorContents__Output,
} from '../../generated/inference/InferTensorContents.js';
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { ModelMetadataResponse } from '../../generated/inference/ModelMetadataResponse.js';
import type { RepositoryIndexResponse } from '../../generated/inference/RepositoryIndexResponse.js';
import type { ModelConfig } from '../../generated/inference/ModelConfig.js';
import type { ModelRepositoryParameter__Output } from '../../generated/inference/ModelRepositoryParameter.js';
import type { ModelStatisticsResponse } from '../../generated/inference/ModelStatisticsResponse.js';
import type { ModelStatisticsSnapshot } from '../../core/inference-statistics.js';
import type { LoadParameter } from '../../core/load-parameters.js';
import type { TritonModelConfig } from '../../core/model-config.js';

/** Converts protobuf parameters to core parameters; 64-bit integers arrive as strings. */
export function toCoreParameters(params: Record<string, InferParameter__Output>): Parameters {
  const out: Parameters = {};
  for (const [key, p] of Object.entries(params)) {
    switch (p.parameter_choice) {
      case 'bool_param':
        out[key] = p.bool_param ?? false;
        break;
      case 'int64_param':
        out[key] = Number(p.int64_param);
        break;
      case 'uint64_param':
        out[key] = Number(p.uint64_param);
        break;
      case 'double_param':
        out[key] = p.double_param ?? 0;
        break;
      case 'string_param':
        out[key] = p.string_param ?? '';
        break;
      case undefined:
        break;
    }
  }
  return out;
}

/** Converts core parameters to protobuf; `headers` travel as metadata, not parameters. */
export function fromCoreParameters(params: Parameters | undefined): Record<string, InferParameter> {
  const out: Record<string, InferParameter> = {};
  if (params === undefined) return out;
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (typeof value === 'number') {
      out[key] = Number.isSafeInteger(value) ? { int64_param: value } : { double_param: value };
    }
  }
  return out;
}

/** The InferTensorContents field that carries each datatype's values (v2-protocol.md §1.7). */
const CONTENTS_FIELD: Readonly<Record<string, keyof InferTensorContents__Output>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/**
 * Values in a field that does not belong to the datatype (e.g. INT32 data in bytes_contents) would
 * otherwise read as "0 elements"; say what is actually wrong. Unknown and raw-only datatypes are
 * left to the core, which names those problems.
 */
function checkContentsField(name: string, datatype: string, c: InferTensorContents__Output): void {
  const expected = CONTENTS_FIELD[datatype];
  if (expected === undefined) return;
  const misplaced = Object.entries(c)
    .filter(([field, v]) => field !== expected && Array.isArray(v) && v.length > 0)
    .map(([field]) => field);
  if (misplaced.length > 0) {
    throw invalidInput(
      `input '${shorten(name)}': ${shorten(datatype)} values belong in contents.${expected}, but the request set ${misplaced.map((f) => `contents.${f}`).join(', ')}`,
    );
  }
}

/** Picks the typed contents field that carries a datatype's values. */
function typedValues(
  datatype: string,
  c: InferTensorContents__Output,
): ArrayLike<number | bigint | boolean | Uint8Array> {
  switch (datatype) {
    case 'BOOL':
      return c.bool_contents;
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return c.int_contents;
    case 'INT64':
      return c.int64_contents.map((v) => BigInt(v));
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return c.uint_contents;
    case 'UINT64':
      return c.uint64_contents.map((v) => BigInt(v));
    case 'FP32':
      return c.fp32_contents;
    case 'FP64':
      return c.fp64_contents;
    case 'BYTES':
      return c.bytes_contents;
    default:
      return [];
  }
}

function hasTypedContents(c: InferTensorContents__Output | null): boolean {
  if (c === null) return false;
  return Object.values(c).some((v) => Array.isArray(v) && v.length > 0);
}

/** Converts a ModelInferRequest to a core request; tensor validation happens in the core. */
export function toCoreInferRequest(req: ModelInferRequest__Output): InferenceRequest {
  const raw = req.raw_input_contents;
  const inputParams = req.inputs.map((input) => toCoreParameters(input.parameters));
  const places = req.inputs.map((input, i) =>
    placeOf(`input '${shorten(input.name)}'`, inputParams[i]),
  );
  // Inputs in shared memory have no raw_input_contents entry (Triton's infer_handler.cc).
  const carried = places.filter((p) => p === undefined).length;
  if (raw.length > 0 && raw.length !== carried) {
    throw invalidInput(
      `raw_input_contents has ${raw.length} entries but the request has ${carried} inputs not in shared memory; send one per such input, in order`,
    );
  }
  let rawIndex = 0;
  const inputs: RequestInput[] = req.inputs.map((input, i) => {
    let data: WireData;
    const place = places[i];
    if (place !== undefined) {
      if (hasTypedContents(input.contents)) {
        throw invalidInput(
          `input '${shorten(input.name)}': its data is in shared memory, so contents must be empty`,
        );
      }
      data = { kind: 'shm', ...place };
    } else if (raw.length > 0) {
      if (hasTypedContents(input.contents)) {
        throw invalidInput(
          `input '${shorten(input.name)}': use either raw_input_contents or contents, not both`,
        );
      }
      data = { kind: 'raw', bytes: raw[rawIndex++] ?? Buffer.alloc(0) };
    } else if (input.contents === null) {
      throw invalidInput(
        `input '${shorten(input.name)}' has no data: set contents or raw_input_contents`,
      );
    } else {
      checkContentsField(input.name, input.datatype, input.contents);
      data = { kind: 'list', values: typedValues(input.datatype, input.contents) };
    }
    const parameters = inputParams[i] ?? {};
    return {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(Number),
      data,
      ...(Object.keys(parameters).length === 0 ? {} : { parameters }),
    };
  });
  const params = toCoreParameters(req.parameters);
  return {
    inputs,
    ...(req.id === '' ? {} : { id: req.id }),
    ...(Object.keys(params).length === 0 ? {} : { parameters: params }),
    ...(req.outputs.length === 0
      ? {}
      : {
          outputs: req.outputs.map((o) => {
            const p = toCoreParameters(o.parameters);
            return Object.keys(p).length === 0 ? { name: o.name } : { name: o.name, parameters: p };
          }),
        }),
  };
}

const numbers =
  (field: keyof InferTensorContents) =>
  (data: TensorValues): InferTensorContents => ({
    [field]: Array.from(data as ArrayLike<number>),
  });

/** How each datatype's values become typed contents; 16-bit floats have no field and travel raw only. */
const TYPED_ENCODERS: Readonly<Record<Datatype, (data: TensorValues) => InferTensorContents>> = {
  BOOL: (data) => ({ bool_contents: Array.from(data as Uint8Array, (v) => v !== 0) }),
  INT8: numbers('int_contents'),
  INT16: numbers('int_contents'),
  INT32: numbers('int_contents'),
  UINT8: numbers('uint_contents'),
  UINT16: numbers('uint_contents'),
  UINT32: numbers('uint_contents'),
  FP32: numbers('fp32_contents'),
  FP64: numbers('fp64_contents'),
  INT64: (data) => ({ int64_contents: Array.from(data as BigInt64Array, (v) => v.toString()) }),
  UINT64: (data) => ({ uint64_contents: Array.from(data as BigUint64Array, (v) => v.toString()) }),
  BYTES: (data) => ({
    bytes_contents: (data as readonly Uint8Array[]).map((b) =>
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ),
  }),
  FP16: () => ({}),
  BF16: () => ({}),
};

function typedContents(tensor: Tensor): InferTensorContents {
  return TYPED_ENCODERS[tensor.datatype](tensor.data);
}

/**
 * Converts a core response. Outputs travel as `raw_output_contents`, as Triton sends them and as
 * tritonclient reads them (it does not decode typed numeric contents, v2-protocol.md §4.2), unless
 * `useRaw` is false (setting `grpc_output_contents: "as_request"` and a typed request, MLServer's
 * behaviour); 16-bit floats have no typed field and always travel raw.
 */
export function fromCoreInferResponse(res: InferenceResponse, useRaw: boolean): ModelInferResponse {
  const raw = useRaw || res.outputs.some((t) => t.datatype === 'FP16' || t.datatype === 'BF16');
  return {
    model_name: res.modelName,
    model_version: res.modelVersion ?? '',
    id: res.id,
    parameters: fromCoreParameters(withoutHeaders(res.parameters)),
    outputs: res.outputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: [...t.shape],
      parameters: fromCoreParameters(t.parameters),
      ...(raw || t.sharedMemory !== undefined ? {} : { contents: typedContents(t) }),
    })),
    ...(raw
      ? {
          raw_output_contents: res.outputs.map((t) => {
            // An output in shared memory keeps its place with an empty entry, as Triton's does.
            if (t.sharedMemory !== undefined) return Buffer.alloc(0);
            const bytes = toRawBytes(t);
            return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          }),
        }
      : {}),
  };
}

function withoutHeaders(params: Parameters | undefined): Parameters | undefined {
  if (params === undefined) return undefined;
  const rest = { ...params };
  delete rest['headers'];
  return rest;
}

/** Converts model metadata. */
export function fromCoreModelMetadata(meta: ModelMetadata): ModelMetadataResponse {
  const tensor = (t: ModelMetadata['inputs'][number]) => ({
    name: t.name,
    datatype: t.datatype,
    shape: [...t.shape],
    parameters: fromCoreParameters(t.parameters),
  });
  return {
    name: meta.name,
    versions: [...meta.versions],
    platform: meta.platform,
    inputs: meta.inputs.map(tensor),
    outputs: meta.outputs.map(tensor),
    parameters: fromCoreParameters(meta.parameters),
  };
}

/** Converts the repository index. */
export function fromCoreIndex(entries: readonly RepositoryIndexEntry[]): RepositoryIndexResponse {
  return {
    models: entries.map((e) => ({
      name: e.name,
      version: e.version ?? '',
      state: e.state,
      reason: e.reason,
    })),
  };
}

export type { InferTensorContents };

/** Triton's `ModelRepositoryParameter` choices as core load parameters. */
export function toCoreLoadParameters(
  // MLServer's ModelRepositoryService requests have no parameters field.
  params: Record<string, ModelRepositoryParameter__Output> | undefined,
): Record<string, LoadParameter> {
  const out: Record<string, LoadParameter> = {};
  for (const [key, p] of Object.entries(params ?? {})) {
    switch (p.parameter_choice) {
      case 'bool_param':
        out[key] = { kind: 'bool', value: p.bool_param ?? false };
        break;
      case 'int64_param':
        out[key] = { kind: 'int', value: Number(p.int64_param) };
        break;
      case 'string_param':
        out[key] = { kind: 'string', value: p.string_param ?? '' };
        break;
      case 'bytes_param':
        out[key] = { kind: 'bytes', value: p.bytes_param ?? Buffer.alloc(0) };
        break;
      case undefined:
        throw invalidInput(`load parameter '${shorten(key)}' has no value`);
    }
  }
  return out;
}

/** Triton's enum numbers (model_config.proto `DataType`), which travel as varints. */
const DATA_TYPE_NUMBERS: Readonly<Record<string, number>> = {
  TYPE_INVALID: 0,
  TYPE_BOOL: 1,
  TYPE_UINT8: 2,
  TYPE_UINT16: 3,
  TYPE_UINT32: 4,
  TYPE_UINT64: 5,
  TYPE_INT8: 6,
  TYPE_INT16: 7,
  TYPE_INT32: 8,
  TYPE_INT64: 9,
  TYPE_FP16: 10,
  TYPE_FP32: 11,
  TYPE_FP64: 12,
  TYPE_STRING: 13,
  TYPE_BF16: 14,
};

/** model_config.proto `ModelInstanceGroup.Kind`. */
const KIND_CPU = 2;

/** Converts the core's Triton model configuration to the ModelConfig message. */
export function fromCoreModelConfig(config: TritonModelConfig): ModelConfig {
  const tensor = (t: TritonModelConfig['input'][number]) => ({
    name: t.name,
    data_type: DATA_TYPE_NUMBERS[t.data_type] ?? 0,
    dims: [...t.dims],
  });
  return {
    name: config.name,
    platform: config.platform,
    backend: config.backend,
    max_batch_size: config.max_batch_size,
    input: config.input.map(tensor),
    output: config.output.map(tensor),
    instance_group: config.instance_group.map((g) => ({
      name: g.name,
      kind: KIND_CPU,
      count: g.count,
    })),
    ...(config.dynamic_batching === undefined
      ? {}
      : { dynamic_batching: { ...config.dynamic_batching } }),
    ...(config.response_cache === undefined
      ? {}
      : { response_cache: { ...config.response_cache } }),
  };
}

/** Converts statistics; the core's snapshot already uses the message's field names. */
export function fromCoreStatistics(
  stats: readonly ModelStatisticsSnapshot[],
): ModelStatisticsResponse {
  return {
    model_stats: stats.map((s) => ({
      ...s,
      inference_stats: { ...s.inference_stats },
      batch_stats: [...s.batch_stats],
    })),
  };
}
