/**
 * Generate and streaming routes, with and without `/versions/{v}`:
 * - `generate`: Triton's generate document (core/generate.ts), or a V2 request when the body has
 *   `inputs` (MLServer's alias of infer);
 * - `infer_stream` / `generate_stream`: server-sent events, one `data: <json>\n\n` per response
 *   (MLServer rest/endpoints.py; Triton extension_generate.md). An error before the first
 *   response is an ordinary JSON error with its status; after it, a `data: {"error": …}` event.
 * Responses are never gzipped: compression would hold events back (MLServer's streaming docs).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import { isGenerateDocument } from '../../../core/generate.js';
import type { RequestContext } from '../../../core/types.js';
import { toServerError } from '../../../errors.js';
import type { ParsedBody } from '../body-parser.js';
import { binaryOutputs, responseHeaders, toCoreInferRequest } from '../infer-codec.js';
import { contextOf, inRequestContext } from '../request-context.js';
import { encodeInferResponse, sendEncoded } from '../response-encoder.js';

type ModelParams = { model: string; version?: string };
type Target = { model: string; version?: string };

const targetOf = (params: ModelParams): Target => ({
  model: params.model,
  ...(params.version === undefined ? {} : { version: params.version }),
});

/** Registers generate, infer_stream and generate_stream. */
export function streamRoutes(
  app: FastifyInstance,
  dataplane: DataPlane,
  limits: { maxResponseBytes: number },
): void {
  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.post<{ Params: ModelParams }>(`${base}/generate`, (request, reply) =>
      generate(dataplane, request, reply, limits.maxResponseBytes),
    );
    for (const route of ['infer_stream', 'generate_stream']) {
      app.post<{ Params: ModelParams }>(`${base}/${route}`, { compress: false }, (request, reply) =>
        streamEvents(dataplane, request, reply, limits.maxResponseBytes),
      );
    }
  }
}

async function generate(
  dataplane: DataPlane,
  request: FastifyRequest<{ Params: ModelParams }>,
  reply: FastifyReply,
  maxResponseBytes: number,
): Promise<FastifyReply> {
  const body = (request.body ?? { json: {} }) as ParsedBody;
  const target = targetOf(request.params);
  const ctx = contextOf(request, reply);
  if (isGenerateDocument(body.json) && body.binary === undefined) {
    const doc = await inRequestContext(request, () =>
      dataplane.generate(body.json as Record<string, unknown>, target, ctx),
    );
    return reply.type('application/json').send(doc);
  }
  const coreRequest = toCoreInferRequest(body);
  const response = await inRequestContext(request, () => dataplane.infer(coreRequest, target, ctx));
  const encoded = await encodeInferResponse(response, binaryOutputs(coreRequest), maxResponseBytes);
  void reply.headers({ ...responseHeaders(response.parameters), ...encoded.headers });
  return sendEncoded(reply, encoded);
}

/** The events of one request: generate documents or V2 responses, as JSON text. */
function eventsOf(
  dataplane: DataPlane,
  body: ParsedBody,
  target: Target,
  ctx: RequestContext,
  maxResponseBytes: number,
): AsyncGenerator<string, void, undefined> {
  if (isGenerateDocument(body.json) && body.binary === undefined) {
    const docs = dataplane.generateStream(body.json, target, ctx);
    return mapStream(docs, (doc) => Promise.resolve(JSON.stringify(doc)));
  }
  const responses = dataplane.inferStream(toCoreInferRequest(body), target, ctx);
  // SSE carries text: outputs are always JSON, never the binary extension.
  return mapStream(responses, async (r) =>
    (await encodeInferResponse(r, () => false, maxResponseBytes)).body.toString('utf8'),
  );
}

async function* mapStream<T>(
  source: AsyncGenerator<T, void, undefined>,
  map: (item: T) => Promise<string>,
): AsyncGenerator<string, void, undefined> {
  // for await returns `source` when this generator is returned early: the runtime stops.
  for await (const item of source) yield await map(item);
}

const event = (json: string): string => `data: ${json}\n\n`;

/** Every event after the first; a failure becomes a last `{"error"}` event (the status is sent). */
async function* laterEvents(
  first: string,
  rest: AsyncGenerator<string, void, undefined>,
): AsyncGenerator<string, void, undefined> {
  yield event(first);
  try {
    for await (const json of rest) yield event(json);
  } catch (error) {
    yield event(JSON.stringify({ error: toServerError(error).message }));
  }
}

async function streamEvents(
  dataplane: DataPlane,
  request: FastifyRequest<{ Params: ModelParams }>,
  reply: FastifyReply,
  maxResponseBytes: number,
): Promise<FastifyReply> {
  const body = (request.body ?? { json: {} }) as ParsedBody;
  const ctx = contextOf(request, reply);
  const events = eventsOf(dataplane, body, targetOf(request.params), ctx, maxResponseBytes);
  // The first response is awaited before anything is sent, so early errors keep their status.
  const first = await inRequestContext(request, () => events.next());
  // One connection per event stream: a stream ends at any time (client, runtime, shutdown), and a
  // kept-alive socket left over from it would hold a closing server open until its idle timeout.
  void reply
    .type('text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('connection', 'close');
  if (first.done === true) return reply.send('');
  // When the client goes away fastify destroys this stream, which returns `events`.
  return reply.send(Readable.from(laterEvents(first.value, events), { objectMode: false }));
}
