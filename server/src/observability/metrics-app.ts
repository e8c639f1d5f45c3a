/**
 * The metrics endpoint on its own port (MLServer 8082, Triton 8002), so a scrape never competes
 * with inference traffic and metrics can be firewalled separately.
 */
import fastify, { type FastifyInstance } from 'fastify';
import type { ServerMetrics } from './metrics.js';

/** Builds the metrics app; `endpoint` is the path (MLServer's `metrics_endpoint`). */
export function buildMetricsApp(metrics: ServerMetrics, endpoint: string): FastifyInstance {
  const app = fastify({ logger: false, return503OnClosing: false });
  app.get(endpoint, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .type('application/json')
      .send({ error: `metrics are served at ${endpoint}` }),
  );
  return app;
}
