/**
 * Model readiness, metadata and inference, with and without `/versions/{v}`
 * (inference_rest.md "Model Ready", "Model Metadata", "Inference").
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import { modelNotReady } from '../../../errors.js';
import type { ParsedBody } from '../body-parser.js';
import { binaryOutputs, responseHeaders, toCoreInferRequest } from '../infer-codec.js';
import { encodeInferResponse, sendEncoded } from '../response-encoder.js';
import { contextOf, inRequestContext } from '../request-context.js';

type ModelParams = { model: string; version?: string };

/** Registers the per-model routes. */
export function modelRoutes(
  app: FastifyInstance,
  dataplane: DataPlane,
  limits: { maxResponseBytes: number },
): void {
  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<{ Params: ModelParams }>(`${base}/ready`, (request) => {
      const { model, version } = request.params;
      if (!dataplane.modelReady(model, version)) {
        throw modelNotReady(model, dataplane.whyNotReady(model, version));
      }
      return Promise.resolve({ name: model, ready: true });
    });
    app.get<{ Params: ModelParams }>(base, (request) => {
      const metadata = dataplane.modelMetadata(request.params.model, request.params.version);
      return Promise.resolve({
        name: metadata.name,
        versions: metadata.versions,
        platform: metadata.platform,
        inputs: metadata.inputs,
        outputs: metadata.outputs,
        ...(metadata.parameters === undefined ? {} : { parameters: metadata.parameters }),
      });
    });
    app.post<{ Params: ModelParams }>(`${base}/infer`, (request, reply) =>
      infer(dataplane, request, reply, limits.maxResponseBytes),
    );
    // Triton's model configuration and statistics extensions.
    app.get<{ Params: ModelParams }>(`${base}/config`, (request) =>
      Promise.resolve(dataplane.modelConfig(request.params.model, request.params.version)),
    );
    app.get<{ Params: ModelParams }>(`${base}/stats`, (request) =>
      Promise.resolve({
        model_stats: dataplane.modelStatistics(request.params.model, request.params.version),
      }),
    );
  }
  // A static segment wins over `/v2/models/:model` in fastify's router, as in Triton's.
  app.get('/v2/models/stats', () => Promise.resolve({ model_stats: dataplane.modelStatistics() }));
  app.get('/v2/models', async () => {
    const index = await dataplane.repositoryIndex(true);
    return { models: [...new Set(index.map((e) => e.name))] };
  });
}

async function infer(
  dataplane: DataPlane,
  request: FastifyRequest<{ Params: ModelParams }>,
  reply: FastifyReply,
  maxResponseBytes: number,
): Promise<FastifyReply> {
  const body = (request.body ?? { json: {} }) as ParsedBody;
  const coreRequest = toCoreInferRequest(body);
  const response = await inRequestContext(request, () =>
    dataplane.infer(
      coreRequest,
      {
        model: request.params.model,
        ...(request.params.version === undefined ? {} : { version: request.params.version }),
      },
      contextOf(request, reply),
    ),
  );
  const encoded = await encodeInferResponse(response, binaryOutputs(coreRequest), maxResponseBytes);
  void reply.headers({ ...responseHeaders(response.parameters), ...encoded.headers });
  return sendEncoded(reply, encoded);
}
