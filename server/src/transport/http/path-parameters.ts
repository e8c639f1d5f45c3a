/**
 * The bound on a path parameter (a model name, a version, a region name): find-my-way refuses a
 * longer one (FST_ERR_MAX_PARAM_LENGTH), and the REST adapter answers 400 with this message.
 */
export const MAX_PARAM_LENGTH = 256;

export const PARAM_TOO_LONG = `a path parameter is too long (the limit is ${String(MAX_PARAM_LENGTH)} characters)`;

/**
 * Whether a V2 path has a segment longer than a parameter may be. Every parametric route is under
 * `/v2/`; the router, finding such a path's parameter too long, falls through to the catch-all of
 * models' own routes (routes/custom-handlers.ts), which answers it as the router would have.
 */
export function hasOverlongParameter(path: string): boolean {
  return path.startsWith('/v2/') && path.split('/').some((s) => s.length > MAX_PARAM_LENGTH);
}
