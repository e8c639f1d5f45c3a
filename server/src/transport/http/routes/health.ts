/**
 * Health and server metadata (inference_rest.md "Health" and "Server Metadata"). Health answers
 * 200 with a JSON body: tritonclient only checks the status, the KServe SDK reads `live`/`ready`.
 */
import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import { ErrorCode, ServerError } from '../../../errors.js';

/** Registers `/v2/health/*` and `GET /v2`. */
export function healthRoutes(app: FastifyInstance, dataplane: DataPlane): void {
  // Synchronous handlers: fastify sends what they return and routes what they throw to the error handler.
  app.get('/v2/health/live', () => {
    if (!dataplane.live()) throw new ServerError(ErrorCode.SHUTTING_DOWN, 'server is not live');
    return Promise.resolve({ live: true });
  });
  app.get('/v2/health/ready', () => {
    const reason = dataplane.notReadyReason();
    if (reason !== undefined) throw new ServerError(ErrorCode.SHUTTING_DOWN, reason);
    return Promise.resolve({ ready: true });
  });
  app.get('/v2', () => Promise.resolve(dataplane.serverMetadata()));
}
