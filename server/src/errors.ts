/**
 * One typed error model for the whole server (conventions §4.5).
 *
 * The domain throws only {@link ServerError}. Adapters map `code` to an HTTP status and a gRPC
 * status through exhaustive tables (transport/http/error-mapping.ts, transport/grpc/status.ts), so
 * adding a code without mapping it fails to compile. Messages are written for the client: they name
 * the input, model or limit and say what is wrong, and never contain file paths or stack traces.
 */
export const ErrorCode = {
  INVALID_INPUT: 'SRV_ERR_INVALID_INPUT',
  MODEL_NOT_FOUND: 'SRV_ERR_MODEL_NOT_FOUND',
  MODEL_NOT_READY: 'SRV_ERR_MODEL_NOT_READY',
  MODEL_LOAD_FAILED: 'SRV_ERR_MODEL_LOAD_FAILED',
  PAYLOAD_TOO_LARGE: 'SRV_ERR_PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'SRV_ERR_UNSUPPORTED_MEDIA_TYPE',
  ROUTE_NOT_FOUND: 'SRV_ERR_ROUTE_NOT_FOUND',
  ADMIN_ONLY: 'SRV_ERR_ADMIN_ONLY',
  UNSUPPORTED: 'SRV_ERR_UNSUPPORTED',
  TIMEOUT: 'SRV_ERR_TIMEOUT',
  CANCELLED: 'SRV_ERR_CANCELLED',
  SHUTTING_DOWN: 'SRV_ERR_SHUTTING_DOWN',
  OVERLOADED: 'SRV_ERR_OVERLOADED',
  INFERENCE_FAILED: 'SRV_ERR_INFERENCE_FAILED',
  INTERNAL: 'SRV_ERR_INTERNAL',
} as const;

/** The union of every error code the server can report. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An expected, client-facing failure with a stable code. */
export class ServerError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
  }
}

/** Shorthand constructors keep call sites short and the wording consistent. */
export const invalidInput = (message: string): ServerError =>
  new ServerError(ErrorCode.INVALID_INPUT, message);

/**
 * Triton's wording for a model or version the server cannot serve (triton-inference-server/core
 * model_repository_manager.cc and model_lifecycle.cc: "Request for unknown model: '<m>' is not
 * found", "… version <v> is not found", "… has no available versions", "… version <v> is not at
 * ready state"). Triton's own example clients and tests check the `Request for unknown model`
 * prefix, so every such message starts with it; the status codes stay Tessera's (docs/errors.md).
 */
const UNKNOWN_MODEL = 'Request for unknown model:';

export const modelNotFound = (name: string, version?: string): ServerError =>
  new ServerError(
    ErrorCode.MODEL_NOT_FOUND,
    version === undefined
      ? `${UNKNOWN_MODEL} '${shorten(name)}' is not found`
      : `${UNKNOWN_MODEL} '${shorten(name)}' version ${shorten(version)} is not found`,
  );

/** A known model (or version) that is not serving; `detail` says why, in user terms. */
export const modelNotReady = (name: string, detail: string, version?: string): ServerError =>
  new ServerError(
    ErrorCode.MODEL_NOT_READY,
    version === undefined || version === ''
      ? `${UNKNOWN_MODEL} '${shorten(name)}' has no available versions: ${detail}`
      : `${UNKNOWN_MODEL} '${shorten(name)}' version ${shorten(version)} is not at ready state: ${detail}`,
  );

/** A repository call on an inference port while the admin port serves the repository API. */
export const adminOnly = (port: 'REST' | 'gRPC'): ServerError =>
  new ServerError(
    ErrorCode.ADMIN_ONLY,
    `the repository API is not served on the ${port} inference port: use the admin port (settings admin_port)`,
  );

const SHOWN_LENGTH = 64;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A client-supplied name (model, version, input, output) as messages quote it: at most 64
 * characters, and well-formed text. Echoing names whole lets one request make an error message
 * of megabytes, which gRPC cannot even deliver (status details travel in a size-limited trailer).
 */
export function shorten(value: string): string {
  const cut = value.length > SHOWN_LENGTH ? `${value.slice(0, SHOWN_LENGTH)}…` : value;
  return wellFormed(cut);
}

/** Whether text has a UTF-8 form: no lone UTF-16 surrogates (String#isWellFormed, ES2024). */
export function isWellFormed(text: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(text);
}

/** Replaces lone UTF-16 surrogates with U+FFFD, so the text can be percent-encoded or UTF-8 encoded. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Wraps anything thrown into a ServerError. Unknown errors are defects: they become INTERNAL with a
 * generic message, and the original is kept as `cause` for the logs only.
 */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  return new ServerError(ErrorCode.INTERNAL, 'internal server error', { cause: error });
}

/** Returns a message from any thrown value without assuming it is an Error. */
export function getErrorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * An absolute path: an optional drive letter (`C:`, only at a word start, so the `d:` of
 * `failed:/x/y` is no drive), then at least two separated segments. Segments before the last may
 * contain spaces (`/srv/my models/x`); the last may not, so the words after a path survive.
 */
const ABSOLUTE_PATH =
  /(?:(?<![\w])[A-Za-z]:)?(?:[\\/][\w.@+-]+(?: [\w.@+-]+)*(?=[\\/]))+[\\/][\w.@+-]*/g;

/**
 * Removes absolute file-system paths from a message that comes from a library (e.g. onnxruntime),
 * so that errors never reveal the server's layout to clients (reliability-catalogue §3.6). Paths
 * the caller knows (the model file, its folder) are removed exactly first, whatever they contain.
 */
export function redactPaths(message: string, known: readonly string[] = []): string {
  let text = message;
  // Longest first, so a file is removed whole before its folder would leave its name behind.
  for (const path of [...known].sort((a, b) => b.length - a.length)) {
    if (path.length > 1) text = text.split(path).join('<path>');
  }
  return text.replace(ABSOLUTE_PATH, '<path>');
}
