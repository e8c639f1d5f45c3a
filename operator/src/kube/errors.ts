/** An error answer from the Kubernetes API, carrying the HTTP status and the `Status` reason. */
export class KubeApiError extends Error {
  /** HTTP status code (404, 409, 410, 422, ...). */
  readonly statusCode: number;
  /** `Status.reason` from the body, e.g. `NotFound`, `Conflict`, `Invalid`, `Expired`. */
  readonly reason: string;

  constructor(statusCode: number, reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
  }
}

function statusOf(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.statusCode : undefined;
}

/** 404: the object (or its namespace) does not exist. */
export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** 409: optimistic-concurrency conflict (stale resourceVersion) or AlreadyExists. */
export function isConflict(err: unknown): boolean {
  return statusOf(err) === 409;
}

/** 410: the resourceVersion is too old; an informer must relist (API concepts, "410 Gone"). */
export function isGone(err: unknown): boolean {
  return statusOf(err) === 410;
}

/** 422: the object failed validation (OpenAPI schema or CEL rules). */
export function isInvalid(err: unknown): boolean {
  return statusOf(err) === 422;
}

/** Renders any thrown value as a one-line message for logs and conditions. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
