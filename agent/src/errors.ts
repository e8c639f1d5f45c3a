/**
 * The agent's one error model: every failure a caller sees is an {@link AgentError} with a code,
 * an HTTP status and a message written for the user (no secrets, no local paths, no stacks).
 */
export const AgentErrorCode = {
  INVALID_REQUEST: 'AGT_ERR_INVALID_REQUEST',
  SOURCE_REFUSED: 'AGT_ERR_SOURCE_REFUSED',
  ARTEFACT_NOT_FOUND: 'AGT_ERR_ARTEFACT_NOT_FOUND',
  ACCESS_DENIED: 'AGT_ERR_ACCESS_DENIED',
  STORAGE_CONFIG_INVALID: 'AGT_ERR_STORAGE_CONFIG',
  PULL_FAILED: 'AGT_ERR_PULL_FAILED',
  PULL_TIMEOUT: 'AGT_ERR_PULL_TIMEOUT',
  VERIFY_FAILED: 'AGT_ERR_VERIFY_FAILED',
  ARCHIVE_REJECTED: 'AGT_ERR_ARCHIVE_REJECTED',
  LOAD_FAILED: 'AGT_ERR_LOAD_FAILED',
  SERVER_UNAVAILABLE: 'AGT_ERR_SERVER_UNAVAILABLE',
  NOT_FOUND: 'AGT_ERR_NOT_FOUND',
  INTERNAL: 'AGT_ERR_INTERNAL',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** HTTP status of each code; exhaustive by type (docs/agent.md lists them). */
export const AGENT_HTTP_STATUS: Readonly<Record<AgentErrorCode, number>> = {
  [AgentErrorCode.INVALID_REQUEST]: 400,
  [AgentErrorCode.SOURCE_REFUSED]: 403,
  [AgentErrorCode.ARTEFACT_NOT_FOUND]: 424,
  [AgentErrorCode.ACCESS_DENIED]: 424,
  [AgentErrorCode.STORAGE_CONFIG_INVALID]: 424,
  [AgentErrorCode.PULL_FAILED]: 502,
  [AgentErrorCode.PULL_TIMEOUT]: 504,
  [AgentErrorCode.VERIFY_FAILED]: 422,
  [AgentErrorCode.ARCHIVE_REJECTED]: 422,
  [AgentErrorCode.LOAD_FAILED]: 422,
  [AgentErrorCode.SERVER_UNAVAILABLE]: 503,
  [AgentErrorCode.NOT_FOUND]: 404,
  [AgentErrorCode.INTERNAL]: 500,
};

/** An expected failure with a stable code and a user-safe message. */
export class AgentError extends Error {
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

/** Anything thrown becomes an AgentError; unknown errors are defects with a generic message. */
export function toAgentError(error: unknown): AgentError {
  if (error instanceof AgentError) return error;
  return new AgentError(AgentErrorCode.INTERNAL, 'internal agent error', { cause: error });
}

/** A message from any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
