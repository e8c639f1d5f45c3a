/**
 * OpenAPI documents and Swagger UI pages (MLServer openapi.md): `/v2/docs`,
 * `/v2/docs/dataplane.json`, `/v2/models/{m}[/versions/{v}]/docs[/dataplane.json]`.
 */
import swaggerUi from '@fastify/swagger-ui';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { DataPlane } from '../../../core/dataplane.js';
import { dataplaneSpec, docsPage, modelSpec } from '../openapi.js';

type ModelParams = { model: string; version?: string };

/** A registered route, as fastify's onRoute hook reports it. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/**
 * Records every route registered on `app` from now on, so the OpenAPI document can be checked
 * against what the server really serves (fastify has no public route list). Call before any route.
 */
export function trackRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
}

/** The routes registered on `app` since {@link trackRoutes}. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/** Registers the docs routes; Swagger UI's assets are served under `/v2/docs/static`. */
export async function docsRoutes(
  app: FastifyInstance,
  dataplane: DataPlane,
  options: { serverVersion: string; rootPath: string },
): Promise<void> {
  const spec = dataplaneSpec(options.serverVersion, options.rootPath);
  await app.register(swagger, { mode: 'static', specification: { document: spec as never } });
  await app.register(swaggerUi, { routePrefix: '/v2/docs' });
  app.get('/v2/docs/dataplane.json', () => Promise.resolve(spec));
  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<{ Params: ModelParams }>(`${base}/docs/dataplane.json`, (request) => {
      const metadata = dataplane.modelMetadata(request.params.model, request.params.version);
      return Promise.resolve(modelSpec(metadata, options.serverVersion, options.rootPath));
    });
    app.get<{ Params: ModelParams }>(`${base}/docs`, (request, reply) => {
      const metadata = dataplane.modelMetadata(request.params.model, request.params.version);
      const specUrl = `${request.url.replace(/\/docs\/?(\?.*)?$/, '')}/docs/dataplane.json`;
      const page = docsPage(
        `Model ${metadata.name}`,
        specUrl,
        `${options.rootPath}/v2/docs/static`,
      );
      void reply.type('text/html; charset=utf-8');
      return Promise.resolve(page);
    });
  }
}
