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
export function installBodyParser(app: FastifyInstance, maxDepth: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseBody(request, body as Buffer, maxDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
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
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw invalidInput(`malformed JSON body: ${(error as Error).message}`);
  }
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
