/**
 * The REST adapter: builds the fastify app without listening (fastify Testing guide), so tests use
 * `inject()` and main.ts decides where to listen. Handlers only convert in, call the core and
 * convert out; everything protocol-specific (status codes, gzip, CORS, body limits) lives here.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import fastify, {
  LogController,
  type ConnectionError,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { Settings } from '../../config.js';
import type { DataPlane } from '../../core/dataplane.js';
import { ErrorCode, ServerError, toServerError } from '../../errors.js';
import type { ServerMetrics } from '../../observability/metrics.js';
import type { PinoLogger } from '../../observability/logger.js';
import { installBodyParser, tooLarge } from './body-parser.js';
import { MAX_PARAM_LENGTH, PARAM_TOO_LONG } from './path-parameters.js';
import { HTTP_STATUS } from './error-mapping.js';
import { endRequestSpan, startRequestSpan } from './request-context.js';
import { docsRoutes, trackRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { modelRoutes } from './routes/models.js';
import { sharedMemoryRoutes } from './routes/shared-memory.js';
import { adminOnlyRoutes, repositoryRoutes } from './routes/repository.js';
import { streamRoutes } from './routes/stream.js';
import { CUSTOM_ROUTE_URL, customHandlerRoutes } from './routes/custom-handlers.js';

/** What the REST app needs. */
export interface HttpDeps {
  readonly settings: Settings;
  readonly dataplane: DataPlane;
  readonly metrics: ServerMetrics;
  readonly logger: PinoLogger;
  /**
   * Which routes this listener serves: `all` (no admin port: today's single listener),
   * `inference` (the inference port while an admin port exists: repository routes answer 403) or
   * `admin` (the admin port: the repository API and health only).
   */
  readonly surface?: HttpSurface;
}

/** The route set of one REST listener; one DataPlane behind every listener. */
export type HttpSurface = 'all' | 'inference' | 'admin';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the REST app. */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const { settings } = deps;
  const rootPath = settings.root_path;
  // Node checks headers/request timeouts only every connectionsCheckingInterval (30 s by
  // default), so a 1 s headers timeout would let a slow client hold a socket for up to 31 s.
  const checkIntervalMs = Math.min(1000, (settings.headers_timeout_seconds * 1000) / 2);
  // pino's Logger type is wider than fastify's base logger; assign to the narrower interface.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = fastify({
    loggerInstance,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'request_id',
    }),
    bodyLimit: settings.max_body_bytes,
    requestTimeout: settings.request_timeout_seconds * 1000,
    // No fastify handlerTimeout: it makes every request allocate an AbortSignal that fastify then
    // aborts when the POST body ends (measured: ~5% of CPU), and it would answer a slow upload with
    // 504 on a kept-alive socket before Node's 408 closes it. Inference has its own deadline in the
    // core (infer_timeout_seconds); requestTimeout/headersTimeout bound slow clients.
    keepAliveTimeout: settings.keep_alive_timeout_seconds * 1000,
    return503OnClosing: true,
    http: { connectionsCheckingInterval: checkIntervalMs },
    requestIdHeader: false,
    genReqId: (req) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    },
    routerOptions: {
      ignoreTrailingSlash: true,
      ignoreDuplicateSlashes: true,
      maxParamLength: MAX_PARAM_LENGTH,
    },
    // Errors raised before routing (bad URL, over-long parameter) and by the HTTP parser would
    // otherwise get fastify's own bodies ({error, code, message, statusCode}) instead of ours.
    frameworkErrors: (error, _request, reply) => {
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? PARAM_TOO_LONG
          : error.code === 'FST_ERR_BAD_URL'
            ? 'the URL is not valid: check its percent-encoding'
            : 'bad request';
      void (reply as FastifyReply).code(400).type('application/json').send({ error: message });
    },
    clientErrorHandler: (error, socket) => {
      answerClientError(error, socket, settings);
    },
    // root_path: the app answers both with and without the prefix, so it works behind a proxy
    // that strips it and one that does not (MLServer's ASGI root_path).
    rewriteUrl:
      rootPath === ''
        ? undefined
        : (req: IncomingMessage) => stripRootPath(req.url ?? '/', rootPath),
  });
  app.server.headersTimeout = settings.headers_timeout_seconds * 1000;
  trackRoutes(app);

  installBodyParser(app, settings.max_json_depth, settings.max_body_bytes);
  installHooks(app, deps.metrics, deps.logger);
  closeConnectionsWhenShuttingDown(app, deps.dataplane);
  installErrorHandling(app);

  if (settings.gzip_enabled) {
    await app.register(compress, {
      global: true,
      threshold: 1024,
      encodings: ['gzip', 'deflate'],
      requestEncodings: ['gzip', 'deflate'],
    });
  }
  if (settings.cors_settings !== null) {
    const c = settings.cors_settings;
    const origins: (string | RegExp)[] = [...c.allow_origins];
    if (c.allow_origin_regex !== null) origins.push(new RegExp(c.allow_origin_regex));
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      credentials: c.allow_credentials,
      methods: c.allow_methods.includes('*')
        ? ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH']
        : c.allow_methods,
      allowedHeaders: c.allow_headers.includes('*') ? undefined : c.allow_headers,
      exposedHeaders: c.expose_headers,
      maxAge: c.max_age,
    } as never);
  }

  const surface = deps.surface ?? 'all';
  healthRoutes(app, deps.dataplane);
  if (surface === 'admin') {
    repositoryRoutes(app, deps.dataplane);
    return app;
  }
  modelRoutes(app, deps.dataplane, { maxResponseBytes: settings.max_response_bytes });
  streamRoutes(app, deps.dataplane, { maxResponseBytes: settings.max_response_bytes });
  sharedMemoryRoutes(app, deps.dataplane);
  if (surface === 'all') repositoryRoutes(app, deps.dataplane);
  else adminOnlyRoutes(app);
  await docsRoutes(app, deps.dataplane, { serverVersion: settings.server_version, rootPath });
  // Last: every path the routes above leave (models' own routes, MLServer's custom handlers).
  await customHandlerRoutes(app, deps.dataplane);
  return app;
}

/**
 * Answers a request the HTTP parser rejected (malformed, headers too large, too slow) with our
 * `{"error": ...}` body, then closes the socket, as fastify's default handler does.
 */
function answerClientError(error: ConnectionError, socket: Socket, settings: Settings): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = 'malformed HTTP request';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = `the request did not arrive in time (headers within ${settings.headers_timeout_seconds} s, the whole request within ${settings.request_timeout_seconds} s)`;
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'the request headers are too large';
  }
  const body = JSON.stringify({ error: message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function stripRootPath(url: string, rootPath: string): string {
  if (url === rootPath || url.startsWith(`${rootPath}/`) || url.startsWith(`${rootPath}?`)) {
    return url.slice(rootPath.length) || '/';
  }
  return url;
}

/** Health probes are neither counted nor traced (MLServer excludes them; v2-protocol §5.2). */
const UNOBSERVED_ROUTES = new Set(['/v2/health/live', '/v2/health/ready']);

/** The route label of a request: its route's URL; `unmatched` for none or the catch-all. */
function routeLabel(url: string | undefined): string {
  return url === undefined || url === CUSTOM_ROUTE_URL ? 'unmatched' : url;
}

// Callback hooks, not async ones: an async hook costs a promise and its settling per request.
function installHooks(app: FastifyInstance, metrics: ServerMetrics, logger: PinoLogger): void {
  app.addHook('onRequest', (request, reply, done) => {
    const route = routeLabel(request.routeOptions.url);
    if (!UNOBSERVED_ROUTES.has(route)) {
      request.metricsDone = metrics.restStarted(request.method);
      startRequestSpan(request, route);
    }
    void reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    // A model's custom route is labelled with its path template (bounded: one per route mounted).
    const route = request.metricsRoute ?? routeLabel(request.routeOptions.url);
    request.metricsDone?.(route, reply.statusCode, reply.elapsedTime / 1000);
    endRequestSpan(request, reply.statusCode);
    // The log line's object is built only when it would be written.
    if (logger.isLevelEnabled('debug')) {
      request.log.debug(
        {
          method: request.method,
          route,
          status_code: reply.statusCode,
          duration_ms: reply.elapsedTime,
        },
        'Request completed',
      );
    }
    done();
  });
}

/**
 * During the shutdown delay every answer closes its connection (RFC 9112 §9.6): a kept-alive
 * client, or kube-proxy's conntrack entry for it, would keep sending to this pod after its
 * endpoint was removed; a new connection goes to a pod that stays.
 */
function closeConnectionsWhenShuttingDown(app: FastifyInstance, dataplane: DataPlane): void {
  // A callback hook, not an async one: no promise per request on the hot path.
  app.addHook('onRequest', (_request, reply, done) => {
    if (dataplane.shuttingDown()) void reply.header('connection', 'close');
    done();
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    metricsDone?: (route: string, statusCode: number, seconds: number) => void;
  }
}

/** Fastify's own error codes that map to our codes; everything else is judged by status. */
const FASTIFY_ERRORS: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.INVALID_INPUT,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.INVALID_INPUT,
  FST_CP_ERR_INVALID_CONTENT_ENCODING: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_CP_ERR_INVALID_CONTENT: ErrorCode.INVALID_INPUT,
  FST_ERR_HANDLER_TIMEOUT: ErrorCode.TIMEOUT,
};

/** Converts anything thrown in a request into a ServerError with a client-safe message. */
export function toHttpError(error: unknown, bodyLimit: number): ServerError {
  if (error instanceof ServerError) return error;
  const fst = error as Partial<FastifyError>;
  const mapped = fst.code === undefined ? undefined : FASTIFY_ERRORS[fst.code];
  if (mapped === ErrorCode.PAYLOAD_TOO_LARGE) return tooLarge(bodyLimit);
  if (mapped !== undefined) return new ServerError(mapped, fst.message ?? 'bad request');
  if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500) {
    return new ServerError(ErrorCode.INVALID_INPUT, fst.message ?? 'bad request');
  }
  return toServerError(error);
}

function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const serverError = toHttpError(error, app.initialConfig.bodyLimit ?? 0);
    const status = HTTP_STATUS[serverError.code];
    if (serverError.code === ErrorCode.INTERNAL) {
      request.log.error({ err: error }, 'Request failed with an unexpected error');
    } else {
      request.log.debug({ code: serverError.code, err: serverError.message }, 'Request failed');
    }
    if (serverError.code === ErrorCode.MODEL_NOT_READY) void reply.header('retry-after', '1');
    return reply.code(status).type('application/json').send({ error: serverError.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]?.slice(0, 200) ?? '';
    const status = HTTP_STATUS[ErrorCode.ROUTE_NOT_FOUND];
    return reply
      .code(status)
      .type('application/json')
      .send({ error: `no route for ${request.method} ${path}` });
  });
}
