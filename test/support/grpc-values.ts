// gRPC inference answers as comparable values, whichever way a server sent its outputs (raw
// contents, as Tessera does, or typed contents, as MLServer does), so two servers' ModelInfer
// replies to the same request can be compared with deepEqual.
/** An InferParameter as grpc-js decodes it (`oneofs: true`: the choice is named). */
export type GrpcParameter = Record<string, unknown> & { parameter_choice: string };

/** One output of a ModelInfer reply (`defaults: true`: every field present). */
export interface GrpcOutput {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Record<string, GrpcParameter>;
  contents: Record<string, unknown[]> | null;
}

/** A ModelInfer reply as grpc-js decodes it with the repository's protos. */
export interface GrpcReply {
  model_name: string;
  model_version: string;
  parameters: Record<string, GrpcParameter>;
  outputs: GrpcOutput[];
  raw_output_contents: Buffer[];
}

/** A parameters map as plain values (`{ content_type: "np" }`). */
export function plainParameters(map: Record<string, GrpcParameter>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).map(([k, p]) => [k, p[p.parameter_choice]]));
}

/** Raw output bytes as values (little-endian, BYTES as u32-length-prefixed UTF-8). */
function rawValues(raw: Buffer, datatype: string): unknown[] {
  const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  switch (datatype) {
    case 'INT64':
      return Array.from(new BigInt64Array(bytes), Number);
    case 'FP64':
      return Array.from(new Float64Array(bytes));
    case 'FP32':
      return Array.from(new Float32Array(bytes));
    case 'BYTES': {
      const out: string[] = [];
      for (let at = 0; at < raw.length;) {
        const size = raw.readUInt32LE(at);
        out.push(raw.subarray(at + 4, at + 4 + size).toString('utf8'));
        at += 4 + size;
      }
      return out;
    }
    default:
      throw new Error(`no raw decoding for ${datatype} in this test`);
  }
}

/** Typed contents as values: int64 strings as numbers, bytes as UTF-8. */
function typedValues(contents: Record<string, unknown[]> | null, datatype: string): unknown[] {
  const field = {
    INT64: 'int64_contents',
    FP64: 'fp64_contents',
    FP32: 'fp32_contents',
    BYTES: 'bytes_contents',
  }[datatype];
  const values = field === undefined ? undefined : contents?.[field];
  if (values === undefined) throw new Error(`no typed contents for ${datatype} in this test`);
  if (datatype === 'BYTES') return values.map((v) => (v as Buffer).toString('utf8'));
  return datatype === 'INT64' ? values.map(Number) : values;
}

/** A gRPC answer as comparable values, whether the server sent raw or typed contents. */
export function grpcAnswer(reply: GrpcReply): unknown {
  return {
    model_name: reply.model_name,
    model_version: reply.model_version,
    parameters: plainParameters(reply.parameters),
    outputs: reply.outputs.map((o, i) => {
      const raw = reply.raw_output_contents[i];
      return {
        name: o.name,
        datatype: o.datatype,
        shape: o.shape.map(Number),
        parameters: plainParameters(o.parameters),
        values:
          raw === undefined ? typedValues(o.contents, o.datatype) : rawValues(raw, o.datatype),
      };
    }),
  };
}
