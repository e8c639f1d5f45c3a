/**
 * Request bodies: JSON with a nesting-depth limit, and the binary tensor extension (Triton
 * extension_binary_data.md: a JSON header of `Inference-Header-Content-Length` bytes followed by
 * raw tensor bytes). Bodies arrive as one Buffer, already bounded by fastify's `bodyLimit` — which
 * also bounds gzip-decompressed bodies, since decompression happens before the limit is counted.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, ServerError, invalidInput } from '../../errors.js';

/** The parsed body: the JSON document plus the binary section, if any. */
export interface ParsedBody {
  readonly json: unknown;
  readonly binary?: Buffer;
}

const ACCEPTED_TYPES = new Set([
  'application/json',
  'application/octet-stream',
  'text/plain',
  // curl's default for -d; MLServer users' curl lines often omit -H.
  'application/x-www-form-urlencoded',
]);

/** Installs the body parser on an app: every accepted content type parses as a {@link ParsedBody}. */
export function installBodyParser(app: FastifyInstance, maxDepth: number, maxBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    readBody(request, payload, maxBytes, (error, body) => {
      if (error !== undefined) {
        done(error, undefined);
        return;
      }
      try {
        done(null, parseBody(request, body, maxDepth));
      } catch (parseError) {
        done(parseError as Error, undefined);
      }
    });
  });
}

/** Node's stream as fastify hands it over; `receivedEncodedLength` is set by a decompressor. */
type BodyStream = NodeJS.ReadableStream & { readonly receivedEncodedLength?: number };

/**
 * Reads a request body into one buffer laid out so that the binary section of a binary-extension
 * body (after `Inference-Header-Content-Length` bytes of JSON) starts 8-byte aligned: typed-array
 * views over it need no copy (tensor-decode.ts copies unaligned tensors). With a Content-Length
 * and no Content-Encoding the buffer is allocated once and chunks are copied straight in, instead
 * of being collected and concatenated (fastify's `parseAs: 'buffer'`): one large allocation per
 * request instead of two, which matters because V8 runs a full collection for every few tens of
 * megabytes of buffers allocated (bench/RESULTS.md, payload sweep).
 */
function readBody(
  request: FastifyRequest,
  payload: BodyStream,
  maxBytes: number,
  done: (error: Error | undefined, body: Buffer) => void,
): void {
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) {
    done(tooLarge(maxBytes), EMPTY);
    return;
  }
  const headerLength = Number(request.headers['inference-header-content-length']);
  const compressed = request.headers['content-encoding'] !== undefined;
  let body: Buffer | undefined =
    Number.isSafeInteger(declared) && !compressed
      ? alignedBuffer(declared, headerLength)
      : undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (error: Error | undefined): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    done(error, body ?? EMPTY);
  };
  const onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // A decompressed body counts against the limit too (a "zip bomb" stops here).
    if (received + bytes.length > maxBytes || (payload.receivedEncodedLength ?? 0) > maxBytes) {
      finish(tooLarge(maxBytes));
      return;
    }
    if (body === undefined) {
      chunks.push(bytes);
    } else if (received + bytes.length > body.length) {
      // More than Content-Length said (Node's parser stops that; a preParsing stream might not).
      finish(lengthMismatch(received + bytes.length, declared));
      return;
    } else {
      bytes.copy(body, received);
    }
    received += bytes.length;
  };
  const onEnd = (): void => {
    const length = payload.receivedEncodedLength ?? received;
    if (!Number.isNaN(declared) && length !== declared) {
      finish(lengthMismatch(length, declared));
      return;
    }
    if (body === undefined) {
      body = alignedBuffer(received, headerLength);
      let offset = 0;
      for (const chunk of chunks) offset += chunk.copy(body, offset);
    }
    finish(undefined);
  };
  const onError = (error: Error): void => {
    // An aborted upload, a broken gzip stream: a client error, never a 500.
    finish(
      error instanceof ServerError
        ? error
        : invalidInput(`the request body could not be read: ${error.message}`),
    );
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}

const EMPTY = Buffer.alloc(0);

/** The 413 of a body over `max_body_bytes`, here and for fastify's own limit check (app.ts). */
export function tooLarge(maxBytes: number): ServerError {
  return new ServerError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `request body is larger than the limit of ${maxBytes} bytes`,
  );
}

function lengthMismatch(received: number, declared: number): ServerError {
  return invalidInput(
    `the request body has ${received} bytes but its Content-Length says ${declared}`,
  );
}

/**
 * `length` bytes whose byte `headerLength` (the binary section of a binary-extension body) lies
 * on an 8-byte boundary of the underlying memory; a plain JSON body gets any buffer.
 */
function alignedBuffer(length: number, headerLength: number): Buffer {
  if (!Number.isSafeInteger(headerLength) || headerLength <= 0 || headerLength >= length) {
    return Buffer.allocUnsafe(length);
  }
  const raw = Buffer.allocUnsafeSlow(length + 7);
  const start = (8 - ((raw.byteOffset + headerLength) % 8)) % 8;
  return raw.subarray(start, start + length);
}

function parseBody(request: FastifyRequest, body: Buffer, maxDepth: number): ParsedBody {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && !ACCEPTED_TYPES.has(type)) {
    throw new ServerError(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      `unsupported content type '${type.slice(0, 64)}': send application/json, or application/octet-stream with Inference-Header-Content-Length`,
    );
  }
  const headerLength = parseHeaderLength(
    request.headers['inference-header-content-length'],
    body.length,
  );
  const jsonPart = headerLength === undefined ? body : body.subarray(0, headerLength);
  const json = parseJson(jsonPart, maxDepth);
  if (headerLength === undefined || headerLength === body.length) return { json };
  return { json, binary: body.subarray(headerLength) };
}

function parseHeaderLength(
  value: string | string[] | undefined,
  bodyLength: number,
): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? (value[0] ?? '') : value;
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw invalidInput(
      `Inference-Header-Content-Length must be a non-negative integer, got '${text.slice(0, 32)}'`,
    );
  }
  const length = Number(text.trim());
  if (length > bodyLength) {
    throw invalidInput(
      `Inference-Header-Content-Length (${length}) is larger than the body (${bodyLength} bytes)`,
    );
  }
  if (length === 0) {
    throw new ServerError(
      ErrorCode.UNSUPPORTED,
      'raw binary requests (Inference-Header-Content-Length: 0) are not supported; send a JSON header',
    );
  }
  return length;
}

/** Parses JSON after checking its nesting depth, so hostile bodies are refused before parsing. */
export function parseJson(bytes: Buffer, maxDepth: number): unknown {
  if (bytes.length === 0) return {};
  const depth = jsonDepth(bytes, maxDepth);
  if (depth > maxDepth) throw invalidInput(`JSON body nests deeper than the limit of ${maxDepth}`);
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    // Only a body JSON.parse refused pays for this: the hot path stays JSON.parse alone.
    const lenient = parseWithNonFinite(text);
    if (lenient.ok) return lenient.value;
    throw invalidInput(`malformed JSON body: ${(error as Error).message}`);
  }
}

/** The bare tokens Triton's JSON parser takes for non-finite numbers (RapidJSON kParseNanAndInfFlag). */
const NON_FINITE: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};
/**
 * Stands for a non-finite token while parsing: written into the text as `\u0000…` (an escape),
 * so the parsed string starts with a NUL, which no ordinary value does.
 */
const SENTINEL_TEXT = '\\u0000tessera-non-finite:';
const SENTINEL = '\u0000tessera-non-finite:';
const N = 0x4e;
const I = 0x49;
const MINUS = 0x2d;

/**
 * JSON with `NaN`, `Infinity` and `-Infinity` as values, as Triton accepts them (perf_analyzer's
 * random FP32 data contains NaN). Each bare token outside strings, in a value position, becomes a
 * sentinel string that the reviver turns back into the number; anything else still malformed
 * fails as before. Whether a non-finite value suits the tensor's datatype is the decoder's call.
 */
function parseWithNonFinite(text: string): { ok: true; value: unknown } | { ok: false } {
  let out = '';
  let last = 0;
  let found = false;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      continue;
    }
    if (c !== N && c !== I && c !== MINUS) continue;
    const token = ['NaN', 'Infinity', '-Infinity'].find((t) => text.startsWith(t, i));
    if (token === undefined || !afterValueStart(text, i)) continue;
    out += `${text.slice(last, i)}"${SENTINEL_TEXT}${token}"`;
    i += token.length - 1;
    last = i + 1;
    found = true;
  }
  if (!found) return { ok: false };
  try {
    const value: unknown = JSON.parse(out + text.slice(last), (_key, v: unknown) =>
      typeof v === 'string' && v.startsWith(SENTINEL)
        ? (NON_FINITE[v.slice(SENTINEL.length)] ?? v)
        : v,
    );
    return { ok: true, value };
  } catch {
    return { ok: false };
  }
}

/** Whether position `i` starts a value: the last non-blank before it is `[`, `,` or `:`. */
function afterValueStart(text: string, i: number): boolean {
  for (let j = i - 1; j >= 0; j--) {
    const c = text[j];
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    return c === '[' || c === ',' || c === ':';
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/** The maximum nesting depth of a JSON text, stopping early once past `limit`. */
export function jsonDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return max;
}
