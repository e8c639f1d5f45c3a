/**
 * Health and server metadata (inference_rest.md "Health" and "Server Metadata"). Health answers
 * 200 with a JSON body: tritonclient only checks the status, the KServe SDK reads `live`/`ready`.
 */
import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import { ErrorCode, ServerError } from '../../../errors.js';

/** Registers `/v2/health/*` and `GET /v2`. */
export function healthRoutes(app: FastifyInstance, dataplane: DataPlane): void {
  app.get('/v2/health/live', async () => {
    if (!dataplane.live()) throw new ServerError(ErrorCode.SHUTTING_DOWN, 'server is not live');
    return { live: true };
  });
  app.get('/v2/health/ready', async () => {
    if (!dataplane.ready()) throw new ServerError(ErrorCode.SHUTTING_DOWN, 'server is not ready');
    return { ready: true };
  });
  app.get('/v2', async () => dataplane.serverMetadata());
}
