/**
 * The one place that knows HTTP status codes for error codes. `Record<ErrorCode, number>` makes a
 * missing mapping a compile error (conventions §4.5; ADR 0004 explains 503 for "not ready").
 */
import { ErrorCode } from '../../errors.js';

/** HTTP status for each error code. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.INVALID_INPUT]: 400,
  [ErrorCode.MODEL_NOT_FOUND]: 404,
  [ErrorCode.MODEL_NOT_READY]: 503,
  [ErrorCode.MODEL_LOAD_FAILED]: 422,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.ROUTE_NOT_FOUND]: 404,
  [ErrorCode.ADMIN_ONLY]: 403,
  [ErrorCode.UNSUPPORTED]: 501,
  [ErrorCode.TIMEOUT]: 504,
  [ErrorCode.CANCELLED]: 499,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.OVERLOADED]: 503,
  [ErrorCode.INFERENCE_FAILED]: 500,
  [ErrorCode.INTERNAL]: 500,
};
