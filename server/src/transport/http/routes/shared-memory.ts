/**
 * Triton's shared-memory extension over REST (extension_shared_memory.md): status, register and
 * unregister for system shared memory; the CUDA routes answer that this server has no GPU memory.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DataPlane } from '../../../core/dataplane.js';
import { formatIssues } from '../../../core/model-settings.js';
import { invalidInput } from '../../../errors.js';
import type { ParsedBody } from '../body-parser.js';

type RegionParams = { region_name?: string };

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const registerSchema = z.object({
  key: z.string().min(1),
  offset: count.default(0),
  byte_size: count,
});

/** Registers the `/v2/systemsharedmemory` and `/v2/cudasharedmemory` routes. */
export function sharedMemoryRoutes(app: FastifyInstance, dataplane: DataPlane): void {
  const system = '/v2/systemsharedmemory';
  for (const base of [system, `${system}/region/:region_name`]) {
    app.get<{ Params: RegionParams }>(`${base}/status`, (request) =>
      Promise.resolve(dataplane.systemSharedMemoryStatus(request.params.region_name)),
    );
    app.post<{ Params: RegionParams }>(`${base}/unregister`, async (request) => {
      await dataplane.unregisterSystemSharedMemory(request.params.region_name);
      return {};
    });
  }
  app.post<{ Params: { region_name: string } }>(
    `${system}/region/:region_name/register`,
    async (request) => {
      const body = (request.body as ParsedBody | undefined)?.json;
      const parsed = registerSchema.safeParse(body ?? {});
      if (!parsed.success) {
        throw invalidInput(`invalid shared memory registration: ${formatIssues(parsed.error)}`);
      }
      const { key, offset, byte_size: byteSize } = parsed.data;
      await dataplane.registerSystemSharedMemory(request.params.region_name, key, offset, byteSize);
      return {};
    },
  );
  const cuda = '/v2/cudasharedmemory';
  const refuse = (): Promise<never> => Promise.resolve().then(() => dataplane.cudaSharedMemory());
  for (const base of [cuda, `${cuda}/region/:region_name`]) {
    app.get(`${base}/status`, refuse);
    app.post(`${base}/unregister`, refuse);
  }
  app.post(`${cuda}/region/:region_name/register`, refuse);
}
