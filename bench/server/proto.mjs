// Encodes V2 ModelInferRequest messages and decodes ModelInferResponse messages with protobufjs
// from the repository's proto/dataplane.proto, so the gRPC load client can send pre-encoded bytes.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const protoPath = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'proto',
  'dataplane.proto',
);
let root;

function types() {
  root ??= new protobuf.Root().loadSync(protoPath, { keepCase: true });
  return {
    request: root.lookupType('inference.ModelInferRequest'),
    response: root.lookupType('inference.ModelInferResponse'),
  };
}

export const MODEL_INFER = '/inference.GRPCInferenceService/ModelInfer';

/**
 * A ModelInferRequest for one FP32 input sent as raw_input_contents (little-endian bytes), or as
 * typed fp32_contents when `raw` is false; `outputs` names the requested outputs (empty = all).
 */
export function encodeInferRequest({ model, input, shape, values, outputs = [], raw = true }) {
  const { request } = types();
  const f32 = Float32Array.from(values);
  const tensor = { name: input, datatype: 'FP32', shape };
  if (!raw) tensor.contents = { fp32_contents: Array.from(f32) };
  const message = {
    model_name: model,
    inputs: [tensor],
    outputs: outputs.map((name) => ({ name })),
    raw_input_contents: raw ? [Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength)] : [],
  };
  const err = request.verify(message);
  if (err) throw new Error(`bad ModelInferRequest: ${err}`);
  return Buffer.from(request.encode(request.fromObject(message)).finish());
}

/** Decodes a ModelInferResponse into { outputs: [{ name, datatype, shape, values }] }. */
export function decodeInferResponse(bytes) {
  const { response } = types();
  const msg = response.toObject(response.decode(bytes), { longs: Number, defaults: true });
  const outputs = msg.outputs.map((out, i) => {
    const raw = msg.raw_output_contents?.[i];
    let values;
    if (raw && raw.length > 0) values = decodeRaw(out.datatype, raw);
    else {
      const c = out.contents ?? {};
      values = c.int64_contents?.length
        ? c.int64_contents.map(Number)
        : c.fp32_contents?.length
          ? c.fp32_contents
          : c.int_contents?.length
            ? c.int_contents
            : (c.fp64_contents ?? []);
    }
    return { name: out.name, datatype: out.datatype, shape: out.shape.map(Number), values };
  });
  return { outputs };
}

function decodeRaw(datatype, buf) {
  const b = Buffer.from(buf);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  switch (datatype) {
    case 'INT64':
      return Array.from(new BigInt64Array(ab), Number);
    case 'INT32':
      return Array.from(new Int32Array(ab));
    case 'FP32':
      return Array.from(new Float32Array(ab));
    case 'FP64':
      return Array.from(new Float64Array(ab));
    default:
      return [];
  }
}

const TYPED_ARRAYS = { INT32: Int32Array, FP32: Float32Array };

/**
 * A ModelInferRequest with every input sent as raw_input_contents; `inputs` are
 * { name, datatype (INT32 | FP32), shape, values }.
 */
export function encodeRawTensorsRequest({ model, inputs }) {
  const { request } = types();
  const raw = inputs.map(({ datatype, values }) => {
    const Typed = TYPED_ARRAYS[datatype];
    if (!Typed) throw new Error(`encodeRawTensorsRequest: unsupported datatype ${datatype}`);
    const a = Typed.from(values);
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  });
  const message = {
    model_name: model,
    inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_input_contents: raw,
  };
  const err = request.verify(message);
  if (err) throw new Error(`bad ModelInferRequest: ${err}`);
  return Buffer.from(request.encode(request.fromObject(message)).finish());
}
