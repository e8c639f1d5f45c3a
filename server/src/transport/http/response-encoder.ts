/**
 * Encodes REST inference responses in slices that yield to the event loop. `JSON.stringify` of a
 * response with millions of values holds the event loop for seconds (health probes included) and
 * builds the whole text at once; here each slice of at most {@link SLICE_ELEMENTS} values is
 * encoded, counted against `max_response_bytes`, and followed by a turn of the event loop. The body
 * is complete before anything is sent, so a response over the limit is still a clean 413.
 */
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import { responseTooLarge } from '../../core/request-limits.js';
import { toJsonData, toRawBytes } from '../../core/tensor-encode.js';
import type { InferenceResponse, Parameters, Tensor } from '../../core/types.js';

/** Values per slice: a few milliseconds of work, so a probe waits no longer than that. */
const SLICE_ELEMENTS = 16_384;

/** The REST response: a JSON document, or a JSON header plus binary chunks. */
export interface EncodedResponse {
  /** The whole body as one buffer (joined on first use when it is in {@link parts}). */
  readonly body: Buffer;
  /**
   * The body as the buffers it was built from: the JSON header and each binary output's own
   * bytes. Writing these in turn sends a large binary output without first copying it into one
   * body buffer (a copy that, per request, also feeds V8's external-memory collections).
   */
  readonly parts: readonly Buffer[];
  readonly byteLength: number;
  readonly headers: Record<string, string>;
}

/** A response of one buffer. */
function whole(body: Buffer, headers: Record<string, string>): EncodedResponse {
  return { body, parts: [body], byteLength: body.byteLength, headers };
}

/** A response of several buffers, joined only if someone asks for `body`. */
function inParts(
  parts: Buffer[],
  byteLength: number,
  headers: Record<string, string>,
): EncodedResponse {
  let joined: Buffer | undefined;
  return {
    get body(): Buffer {
      joined ??= Buffer.concat(parts, byteLength);
      return joined;
    },
    parts,
    byteLength,
    headers,
  };
}

/** Collects body parts and refuses to grow past the limit. */
class BoundedBody {
  readonly parts: Buffer[] = [];
  bytes = 0;

  constructor(
    readonly model: string,
    readonly max: number,
  ) {}

  add(part: string | Uint8Array): void {
    const buffer =
      typeof part === 'string'
        ? Buffer.from(part, 'utf8')
        : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    this.bytes += buffer.byteLength;
    if (this.bytes > this.max) throw responseTooLarge(this.model, this.bytes, this.max);
    this.parts.push(buffer);
  }
}

/** A JSON object's text without its closing brace, so more members can follow. */
const openObject = (value: object): string => JSON.stringify(value).slice(0, -1);

/** Appends `"data":[…]` of a tensor, slice by slice, yielding between slices. */
async function addJsonData(body: BoundedBody, tensor: Tensor): Promise<void> {
  const count = Array.isArray(tensor.data)
    ? tensor.data.length
    : (tensor.data as ArrayLike<unknown>).length;
  body.add(',"data":[');
  for (let start = 0; start < count; start += SLICE_ELEMENTS) {
    const values = JSON.stringify(toJsonData(tensor, start, start + SLICE_ELEMENTS));
    body.add(start === 0 ? values.slice(1, -1) : `,${values.slice(1, -1)}`);
    if (start + SLICE_ELEMENTS < count) await nextTurn();
  }
  body.add(']}');
}

/**
 * Converts a core response to the REST body, honouring binary output requests, within
 * `maxBytes` (413 past it).
 */
export async function encodeInferResponse(
  response: InferenceResponse,
  wantsBinary: (name: string) => boolean,
  maxBytes: number,
): Promise<EncodedResponse> {
  if (isSmallJson(response, wantsBinary)) return encodeSmallJson(response, maxBytes);
  const json = new BoundedBody(response.modelName, maxBytes);
  const binary: Uint8Array[] = [];
  const params = responseParameters(response.parameters);
  json.add(
    openObject({
      model_name: response.modelName,
      ...(response.modelVersion === undefined ? {} : { model_version: response.modelVersion }),
      id: response.id,
      ...(params === undefined ? {} : { parameters: params }),
    }),
  );
  json.add(',"outputs":[');
  let first = true;
  for (const tensor of response.outputs) {
    if (!first) json.add(',');
    first = false;
    const base = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    // Output parameters are the content type the core labelled the output with, if any; the C++
    // client requires binary_data_size whenever `parameters` is present (v2-protocol.md §1.5), so
    // unlabelled outputs carry none.
    const labels = tensor.parameters;
    if (tensor.sharedMemory !== undefined) {
      // In shared memory: no data, and no parameters (the C++ client then expects binary data).
      json.add(JSON.stringify(base));
    } else if (wantsBinary(tensor.name)) {
      const bytes = toRawBytes(tensor);
      binary.push(bytes);
      json.add(
        JSON.stringify({ ...base, parameters: { ...labels, binary_data_size: bytes.byteLength } }),
      );
    } else {
      json.add(openObject(labels === undefined ? base : { ...base, parameters: labels }));
      await addJsonData(json, tensor);
    }
  }
  json.add(']}');
  if (binary.length === 0) {
    return whole(Buffer.concat(json.parts), { 'content-type': 'application/json' });
  }
  const headerLength = json.bytes;
  const header = Buffer.concat(json.parts);
  for (const bytes of binary) json.add(bytes);
  return inParts([header, ...json.parts.slice(-binary.length)], json.bytes, {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(headerLength),
  });
}

/**
 * Whether every output goes out as JSON `data` and all of them together fit in one slice: then
 * one `JSON.stringify` of the whole body is both the cheapest encoding and short enough not to
 * need yielding (most requests: a model's few outputs for a few rows).
 */
function isSmallJson(response: InferenceResponse, wantsBinary: (name: string) => boolean): boolean {
  let elements = 0;
  for (const tensor of response.outputs) {
    if (tensor.sharedMemory !== undefined || wantsBinary(tensor.name)) return false;
    elements += (tensor.data as ArrayLike<unknown>).length;
    if (elements > SLICE_ELEMENTS) return false;
  }
  return true;
}

/** The whole JSON body in one pass; the same members, in the same order, as the sliced path. */
function encodeSmallJson(response: InferenceResponse, maxBytes: number): EncodedResponse {
  const params = responseParameters(response.parameters);
  const body = Buffer.from(
    JSON.stringify({
      model_name: response.modelName,
      ...(response.modelVersion === undefined ? {} : { model_version: response.modelVersion }),
      id: response.id,
      ...(params === undefined ? {} : { parameters: params }),
      outputs: response.outputs.map((tensor) => ({
        name: tensor.name,
        datatype: tensor.datatype,
        shape: tensor.shape,
        ...(tensor.parameters === undefined ? {} : { parameters: tensor.parameters }),
        data: toJsonData(tensor),
      })),
    }),
    'utf8',
  );
  if (body.byteLength > maxBytes) {
    throw responseTooLarge(response.modelName, body.byteLength, maxBytes);
  }
  return whole(body, { 'content-type': 'application/json' });
}

/** Bodies from this size on go out part by part rather than joined into one buffer first. */
const STREAM_FROM_BYTES = 64 * 1024;

/**
 * Sends an encoded response: one buffer as it is, a large body of several parts as a stream of
 * them with its Content-Length (fastify pipes it; gzip, when asked for, still applies).
 */
export function sendEncoded(reply: FastifyReply, encoded: EncodedResponse): FastifyReply {
  if (encoded.parts.length === 1 || encoded.byteLength < STREAM_FROM_BYTES) {
    return reply.send(encoded.body);
  }
  return reply
    .header('content-length', String(encoded.byteLength))
    .send(Readable.from(encoded.parts, { objectMode: false }));
}

/** Response parameters minus `headers`, which become HTTP headers instead (MLServer). */
function responseParameters(params: Parameters | undefined): Parameters | undefined {
  if (params === undefined) return undefined;
  const rest = { ...params };
  delete rest['headers'];
  return Object.keys(rest).length === 0 ? undefined : rest;
}
