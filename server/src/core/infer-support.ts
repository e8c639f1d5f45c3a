/**
 * Pieces every inference path shares (unary and streaming, core/dataplane.ts and
 * core/infer-stream.ts): the request id, the deadline and how runtime failures are worded.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, ServerError, redactPaths, toServerError } from '../errors.js';
import type { InferenceRequest, RequestContext } from './types.js';

/** The request id: the body's `id`, else an `x-request-id` header, else a new UUID (MLServer does the last). */
export function requestId(request: InferenceRequest, ctx: RequestContext): string {
  if (typeof request.id === 'string' && request.id !== '') return request.id;
  const header = ctx.headers['x-request-id'];
  return header !== undefined && header !== '' ? header : randomUUID();
}

/** Runtime failures that are not ServerErrors become INFERENCE_FAILED with a path-free message. */
export function wrapRuntimeError(error: unknown, model: string): ServerError {
  if (error instanceof ServerError) return error;
  if (error instanceof Error) {
    return new ServerError(
      ErrorCode.INFERENCE_FAILED,
      `inference failed in model '${model}': ${redactPaths(error.message)}`,
      { cause: error },
    );
  }
  return toServerError(error);
}

/**
 * `work`, or TIMEOUT after `timeoutMs` (0: none), or CANCELLED when `signal` aborts. The work
 * itself goes on: callers keep the model leased until it settles.
 */
export async function withDeadline<T>(
  work: Promise<T>,
  options: { readonly model: string; readonly timeoutMs: number; readonly signal?: AbortSignal },
): Promise<T> {
  const { model, timeoutMs, signal } = options;
  if (timeoutMs <= 0 && signal === undefined) return work;
  return new Promise<T>((resolveWork, rejectWork) => {
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            rejectWork(
              new ServerError(
                ErrorCode.TIMEOUT,
                `inference on model '${model}' exceeded ${timeoutMs} ms`,
              ),
            );
          }, timeoutMs)
        : undefined;
    const onAbort = (): void => {
      rejectWork(
        new ServerError(ErrorCode.CANCELLED, `request for model '${model}' was cancelled`),
      );
    };
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolveWork, rejectWork).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}
