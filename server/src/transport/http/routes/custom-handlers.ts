/**
 * Models' own REST routes at the server root (MLServer's custom handlers, core/custom-handlers.ts):
 * every path no other route serves reaches this catch-all, which hands the request, raw, to the
 * model that mounts the path, or answers 404 as the not-found handler does. Its bodies are read
 * as bytes of any content type (MLflow's `/invocations` takes CSV), bounded by `max_body_bytes`;
 * the V2 routes keep their own parser.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import type { CustomRequest } from '../../../core/model-runtime.js';
import { ErrorCode, ServerError } from '../../../errors.js';
import { PARAM_TOO_LONG, hasOverlongParameter } from '../path-parameters.js';
import { contextOf } from '../request-context.js';

/** The catch-all's path, also its route label until a model's route answers. */
export const CUSTOM_ROUTE_URL = '/*';

/** MLServer's `rest_method` values that a route may have (FastAPI accepts any; these are HTTP's). */
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Headers of this hop (RFC 9110 §7.6.1), not of the message: never copied back. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  // fastify sets the length of what it sends.
  'content-length',
]);

/**
 * Not forwarded either: the body handed over is the decoded one (a gzip body was decompressed),
 * so its encoding and length headers would describe bytes the handler never sees.
 */
const REQUEST_ONLY = new Set(['content-encoding']);

const EMPTY = new Uint8Array(0);

/** Registers the catch-all in a plugin of its own (its content-type parser is its own). */
export async function customHandlerRoutes(
  app: FastifyInstance,
  dataplane: DataPlane,
): Promise<void> {
  await app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, parsed) => {
      parsed(null, body);
    });
    scope.route({
      method: METHODS,
      url: CUSTOM_ROUTE_URL,
      handler: (request, reply) => answer(dataplane, request, reply),
    });
    done();
  });
}

async function answer(
  dataplane: DataPlane,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const url = request.url;
  const mark = url.indexOf('?');
  const custom: CustomRequest = {
    method: request.method,
    path: mark === -1 ? url : url.slice(0, mark),
    query: mark === -1 ? '' : url.slice(mark + 1),
    headers: forwardedHeaders(request.raw.rawHeaders),
    body: request.body instanceof Uint8Array ? request.body : EMPTY,
  };
  if (hasOverlongParameter(custom.path)) {
    throw new ServerError(ErrorCode.INVALID_INPUT, PARAM_TOO_LONG);
  }
  const { route, response } = await dataplane.customRoute(custom, contextOf(request, reply));
  request.metricsRoute = route.path;
  void reply.code(response.status);
  for (const [name, value] of response.headers) {
    const lower = name.toLowerCase();
    if (!HOP_HEADERS.has(lower)) void reply.header(lower, value);
  }
  const { buffer, byteOffset, byteLength } = response.body;
  return reply.send(Buffer.from(buffer, byteOffset, byteLength));
}

/** The request's headers as sent (repeated ones kept), names lower-cased, hop headers left out. */
function forwardedHeaders(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (!HOP_HEADERS.has(name) && !REQUEST_ONLY.has(name)) out.push([name, raw[i + 1] ?? '']);
  }
  return out;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The custom route that answered, as the route label of the REST metrics. */
    metricsRoute?: string;
  }
}
