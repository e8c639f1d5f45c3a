/**
 * The agent's REST API (fastify): the repository API the operator calls — index, load with
 * `parameters`, unload — plus its own probes and metrics. Handlers convert, call the Agent, convert.
 */
import fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  PROBE_PATHS,
  REPOSITORY_ROUTES,
  agentLoadRequestSchema,
  formatIssues,
  isValidModelName,
  MODEL_NAME_RULE,
} from '@tessera/contract';
import type { Agent } from './agent.js';
import { AGENT_HTTP_STATUS, AgentError, AgentErrorCode, toAgentError } from './errors.js';
import type { AgentLogger } from './logger.js';
import type { AgentMetrics } from './metrics.js';

export interface AgentAppDeps {
  readonly agent: Agent;
  readonly metrics: AgentMetrics;
  readonly logger: AgentLogger;
  /** Whether the server's admin port answers (the agent's readiness). */
  serverReachable(): Promise<boolean>;
}

function modelName(raw: string): string {
  if (!isValidModelName(raw)) {
    throw new AgentError(AgentErrorCode.INVALID_REQUEST, `invalid model name: ${MODEL_NAME_RULE}`);
  }
  return raw;
}

export function buildAgentApp(deps: AgentAppDeps): FastifyInstance {
  // pino's Logger type is wider than fastify's base logger; assign to the narrower interface.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = fastify({ loggerInstance, disableRequestLogging: true });
  app.setErrorHandler((error, request, reply) => {
    const agentError =
      error instanceof AgentError
        ? error
        : typeof (error as { statusCode?: unknown }).statusCode === 'number' &&
            (error as { statusCode: number }).statusCode < 500
          ? new AgentError(AgentErrorCode.INVALID_REQUEST, 'the request body is not valid JSON')
          : toAgentError(error);
    if (agentError.code === AgentErrorCode.INTERNAL) {
      request.log.error({ err: error }, 'Request failed with an unexpected error');
    }
    return reply.code(AGENT_HTTP_STATUS[agentError.code]).send({ error: agentError.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}` }),
  );

  app.post(REPOSITORY_ROUTES.index, async () => deps.agent.index());
  app.post<{ Params: { model: string } }>('/v2/repository/models/:model/load', async (request) => {
    const name = modelName(request.params.model);
    const parsed = agentLoadRequestSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      throw new AgentError(
        AgentErrorCode.INVALID_REQUEST,
        `invalid load request: ${formatIssues(parsed.error)}`,
      );
    }
    await deps.agent.load(name, parsed.data.parameters);
    return {};
  });
  app.post<{ Params: { model: string } }>(
    '/v2/repository/models/:model/unload',
    async (request) => {
      await deps.agent.unload(modelName(request.params.model));
      return {};
    },
  );
  app.get(PROBE_PATHS.agentLive, async () => ({ live: true }));
  app.get(PROBE_PATHS.agentReady, async (_request, reply) => {
    if (await deps.serverReachable()) return { ready: true };
    return reply.code(503).send({ error: "the model server's admin port does not answer" });
  });
  app.get('/metrics', async (_request, reply) => {
    return reply
      .type(deps.metrics.registry.contentType)
      .send(await deps.metrics.registry.metrics());
  });
  return app;
}
