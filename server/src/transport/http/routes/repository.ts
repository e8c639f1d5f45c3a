/**
 * The model repository extension (Triton extension_model_repository.md, MLServer's handlers):
 * index, load and unload. tritonclient sends an empty index body, so the body is optional.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DataPlane } from '../../../core/dataplane.js';
import type { LoadParameter } from '../../../core/load-parameters.js';
import { formatIssues } from '../../../core/model-settings.js';
import { adminOnly, invalidInput } from '../../../errors.js';
import type { ParsedBody } from '../body-parser.js';

const indexSchema = z.object({ ready: z.boolean().optional() }).loose();

/**
 * A load or unload body: `{}`, empty, or `{"parameters": {...}}` with string, boolean or integer
 * values (Triton's ModelRepositoryParameter choices; `file:` contents are base64 text on REST).
 */
const lifecycleSchema = z
  .object({
    parameters: z
      .record(z.string(), z.union([z.string(), z.boolean(), z.number().int()]))
      .optional(),
  })
  .loose();

function lifecycleParameters(
  body: unknown,
  operation: 'load' | 'unload',
): Record<string, LoadParameter> {
  const json = (body as ParsedBody | undefined)?.json ?? {};
  const parsed = lifecycleSchema.safeParse(json);
  if (!parsed.success) {
    throw invalidInput(`invalid ${operation} request: ${formatIssues(parsed.error)}`);
  }
  const out: Record<string, LoadParameter> = {};
  for (const [key, value] of Object.entries(parsed.data.parameters ?? {})) {
    out[key] =
      typeof value === 'string'
        ? { kind: 'string', value }
        : typeof value === 'boolean'
          ? { kind: 'bool', value }
          : { kind: 'int', value };
  }
  return out;
}

/** Registers `/v2/repository/*`. */
export function repositoryRoutes(app: FastifyInstance, dataplane: DataPlane): void {
  app.post('/v2/repository/index', async (request) => {
    const json = (request.body as ParsedBody | undefined)?.json ?? {};
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) throw invalidInput(`invalid index request: ${formatIssues(parsed.error)}`);
    return dataplane.repositoryIndex(parsed.data.ready === true);
  });
  app.post<{ Params: { model: string } }>(
    '/v2/repository/models/:model/load',
    async (request, reply) => {
      await dataplane.repositoryLoad(
        request.params.model,
        lifecycleParameters(request.body, 'load'),
      );
      return reply.code(200).send({});
    },
  );
  app.post<{ Params: { model: string } }>(
    '/v2/repository/models/:model/unload',
    async (request, reply) => {
      await dataplane.repositoryUnload(
        request.params.model,
        lifecycleParameters(request.body, 'unload'),
      );
      return reply.code(200).send({});
    },
  );
}

/**
 * Registers `/v2/repository/*` on the inference port while an admin port is set: every call
 * answers 403, so the Service in front of the pod can never load or unload models.
 */
export function adminOnlyRoutes(app: FastifyInstance): void {
  app.all('/v2/repository/*', async () => {
    throw adminOnly('REST');
  });
}
