/**
 * Per-request plumbing shared by the REST routes: the core's RequestContext (headers, abort
 * signal) and the OpenTelemetry context of the request span.
 */
import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../core/types.js';

const tracer = trace.getTracer('tessera-server');

declare module 'fastify' {
  interface FastifyRequest {
    otelContext?: Context;
    otelSpan?: Span;
  }
}

/** Flattens Node's header object to lower-cased single strings (MLServer's `parameters.headers`). */
export function headerRecord(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * The core context for a request. Its signal aborts when the response socket closes before the
 * reply was written (the client went away). fastify's `request.signal` is not used: it listens to
 * the request stream's 'close', which Node emits as soon as a POST body has been read.
 */
export function contextOf(request: FastifyRequest, reply: FastifyReply): RequestContext {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return { headers: headerRecord(request.headers), signal: controller.signal, protocol: 'rest' };
}

/** Starts the request span, continuing a W3C `traceparent` if the client sent one. */
export function startRequestSpan(request: FastifyRequest, route: string): void {
  const parent = propagation.extract(context.active(), request.headers);
  const span = tracer.startSpan(
    `${request.method} ${route}`,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route },
    },
    parent,
  );
  request.otelSpan = span;
  request.otelContext = trace.setSpan(parent, span);
}

/** Ends the request span with the response status. */
export function endRequestSpan(request: FastifyRequest, statusCode: number): void {
  const span = request.otelSpan;
  if (span === undefined) return;
  span.setAttribute('http.response.status_code', statusCode);
  if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** Runs `fn` inside the request span's context, so core spans become its children. */
export function inRequestContext<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  return request.otelContext === undefined ? fn() : context.with(request.otelContext, fn);
}
