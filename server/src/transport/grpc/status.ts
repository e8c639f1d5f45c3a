/**
 * The one place that knows gRPC status codes for error codes; exhaustive by type, like the HTTP
 * table (MLServer grpc/utils.py, Triton grpc_utils.cc).
 */
import { status } from '@grpc/grpc-js';
import { ErrorCode } from '../../errors.js';

/** gRPC status for each error code. */
export const GRPC_STATUS: Readonly<Record<ErrorCode, status>> = {
  [ErrorCode.INVALID_INPUT]: status.INVALID_ARGUMENT,
  [ErrorCode.MODEL_NOT_FOUND]: status.NOT_FOUND,
  [ErrorCode.MODEL_NOT_READY]: status.UNAVAILABLE,
  [ErrorCode.MODEL_LOAD_FAILED]: status.FAILED_PRECONDITION,
  [ErrorCode.PAYLOAD_TOO_LARGE]: status.RESOURCE_EXHAUSTED,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: status.INVALID_ARGUMENT,
  [ErrorCode.ROUTE_NOT_FOUND]: status.UNIMPLEMENTED,
  [ErrorCode.ADMIN_ONLY]: status.PERMISSION_DENIED,
  [ErrorCode.UNSUPPORTED]: status.UNIMPLEMENTED,
  [ErrorCode.TIMEOUT]: status.DEADLINE_EXCEEDED,
  [ErrorCode.CANCELLED]: status.CANCELLED,
  [ErrorCode.SHUTTING_DOWN]: status.UNAVAILABLE,
  [ErrorCode.OVERLOADED]: status.UNAVAILABLE,
  [ErrorCode.INFERENCE_FAILED]: status.INTERNAL,
  [ErrorCode.INTERNAL]: status.INTERNAL,
};
