/**
 * Which loaded model answers a request outside the V2 API: MLServer mounts every
 * `@custom_handler(rest_path, rest_method)` of a loaded model at the root of its REST server
 * (mlserver/rest/server.py `add_custom_handlers`), so MLflow's `POST /invocations` and `GET /ping`
 * work as they do under `mlflow models serve`. Paths are Starlette templates (`/items/{id}`,
 * `{rest:path}`); MLServer appends each model's routes after its own, and Starlette takes the
 * first route that matches, so the server's own routes win and, of two models that mount the same
 * path, the one loaded first answers until it unloads. The same rules hold here.
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { ErrorCode, ServerError, getErrorMessage, shorten } from '../errors.js';
import { withDeadline } from './infer-support.js';
import type { CustomRequest, CustomResponse, CustomRoute } from './model-runtime.js';
import type { LoadedModel } from './model-registry.js';
import { responseTooLarge } from './request-limits.js';
import type { RequestContext } from './types.js';

const tracer = trace.getTracer('tessera-server');

/** Starlette's path convertors (starlette/convertors.py), as regular expressions. */
const CONVERTORS: Readonly<Record<string, string>> = {
  str: '[^/]+',
  path: '.*',
  int: '[0-9]+',
  float: '[0-9]+(?:\\.[0-9]+)?',
  uuid: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
};

const PARAMETER = /\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}/g;

/**
 * The expression a Starlette path template matches (starlette/routing.py `compile_path`), or
 * undefined for a template with an unknown convertor (Starlette refuses it when mounting).
 */
export function compilePathTemplate(template: string): RegExp | undefined {
  let pattern = '';
  let last = 0;
  for (const match of template.matchAll(PARAMETER)) {
    const convertor = CONVERTORS[match[2] ?? 'str'];
    if (convertor === undefined) return undefined;
    pattern += escapeRegExp(template.slice(last, match.index)) + `(?:${convertor})`;
    last = match.index + match[0].length;
  }
  pattern += escapeRegExp(template.slice(last));
  return new RegExp(`^${pattern}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Each route list's compiled templates, made once per loaded instance. */
const compiled = new WeakMap<readonly CustomRoute[], readonly (RegExp | undefined)[]>();

function matchers(routes: readonly CustomRoute[]): readonly (RegExp | undefined)[] {
  let list = compiled.get(routes);
  if (list === undefined) {
    list = routes.map((route) => compilePathTemplate(route.path));
    compiled.set(routes, list);
  }
  return list;
}

/** A custom route that answers a request, and the model version that serves it. */
export interface CustomRouteMatch {
  readonly name: string;
  readonly model: LoadedModel;
  readonly route: CustomRoute;
}

/**
 * The route that answers `method path` (the path percent-decoded, as Starlette matches it) among
 * the serving models: of several, the model loaded first; undefined when none matches.
 */
export function findCustomRoute(
  serving: readonly { readonly name: string; readonly model: LoadedModel }[],
  method: string,
  path: string,
): CustomRouteMatch | undefined {
  let best: CustomRouteMatch | undefined;
  for (const { name, model } of serving) {
    const routes = model.instance.customRoutes;
    if (routes === undefined || routes.length === 0) continue;
    if (best !== undefined && best.model.sequence < model.sequence) continue;
    const expressions = matchers(routes);
    const index = routes.findIndex(
      (route, i) => route.method === method && expressions[i]?.test(path) === true,
    );
    const route = routes[index];
    if (route !== undefined) best = { name, model, route };
  }
  return best;
}

/** What answering a custom route needs from the data plane. */
export interface CustomRouteDeps {
  readonly serving: () => readonly { readonly name: string; readonly model: LoadedModel }[];
  /** 0: no deadline. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/**
 * Answers a request for a custom route: the serving model that mounts it runs it, under the
 * inference deadline and with a lease on the version (an unload waits for it), and its answer is
 * bounded as inference answers are. No route: 404, as for any path the server does not serve.
 */
export async function answerCustomRoute(
  deps: CustomRouteDeps,
  request: CustomRequest,
  ctx: RequestContext,
): Promise<{ readonly route: CustomRoute; readonly response: CustomResponse }> {
  const match = findCustomRoute(deps.serving(), request.method, decodedPath(request.path));
  const handle = match?.model.instance.handleCustom?.bind(match.model.instance);
  if (match === undefined || handle === undefined) {
    throw new ServerError(
      ErrorCode.ROUTE_NOT_FOUND,
      `no route for ${request.method} ${shorten(request.path)}`,
    );
  }
  const { model, name, route } = match;
  const down = model.instance.unavailable?.();
  if (down !== undefined) {
    throw new ServerError(ErrorCode.MODEL_NOT_READY, `model '${name}' is not ready: ${down}`);
  }
  model.retain();
  const work = handle(request, ctx.signal);
  const release = (): void => {
    model.release();
  };
  void work.then(release, release);
  const response = await tracer.startActiveSpan('model custom handler', async (span) => {
    span.setAttributes({ model: name, model_version: model.version, route: route.path });
    try {
      return await withDeadline(work, {
        model: name,
        timeoutMs: deps.timeoutMs,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: getErrorMessage(error) });
      throw error;
    } finally {
      span.end();
    }
  });
  if (response.body.byteLength > deps.maxResponseBytes) {
    throw responseTooLarge(name, response.body.byteLength, deps.maxResponseBytes);
  }
  return { route, response };
}

/** The path as Starlette matches it (percent-decoded); left as sent when it does not decode. */
function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
