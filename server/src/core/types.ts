/**
 * Protocol-neutral data-plane types. The shapes follow the Open Inference Protocol's JSON
 * messages (inference_rest.md), so REST converts almost one to one and gRPC converts field by
 * field. Tensor data is carried decoded, as typed arrays, once the core has validated it.
 */
import type { RepositoryIndexEntry as ContractIndexEntry } from '@tessera/contract';
import type { Datatype } from './datatype.js';

/** A parameter value: the OIP allows string, number and boolean; MLServer adds `headers`. */
export type ParameterValue = string | number | boolean | Readonly<Record<string, string>>;

/** Request- or tensor-level parameters (`$parameters`). */
export type Parameters = Record<string, ParameterValue>;

/** Decoded tensor elements, one typed array per datatype (see datatype.ts). */
export type TensorValues =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | readonly Uint8Array[];

/**
 * Tensor data as it arrived, before validation. Adapters only repackage what the wire carried;
 * the core decodes and validates it, so both protocols share one set of checks and messages.
 * - `json`: the OIP `data` member, flat or nested.
 * - `raw`: little-endian row-major bytes (HTTP binary extension, gRPC `raw_input_contents`).
 * - `list`: gRPC typed `InferTensorContents` values, already flat.
 * - `shm`: bytes in a registered system shared-memory region (system-shared-memory.ts), read by
 *   the core before decoding.
 */
export type WireData =
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array }
  | {
      readonly kind: 'list';
      readonly values: ArrayLike<number | bigint | boolean | string | Uint8Array>;
    }
  | {
      readonly kind: 'shm';
      readonly region: string;
      readonly offset: number;
      readonly byteSize: number;
    };

/** One input of an inference request, as received. */
export interface RequestInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly unknown[];
  readonly parameters?: Parameters;
  readonly data: WireData;
}

/** A requested output (`$request_output`). */
export interface RequestOutput {
  readonly name: string;
  readonly parameters?: Parameters;
}

/** An inference request (`$inference_request`) with undecoded input data. */
export interface InferenceRequest {
  readonly id?: string;
  readonly parameters?: Parameters;
  readonly inputs: readonly RequestInput[];
  readonly outputs?: readonly RequestOutput[];
}

/** A validated tensor. Invariant: `data.length` equals the product of `shape`. */
export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorValues;
  readonly parameters?: Parameters;
  /**
   * Set on an output the client asked for in shared memory, once its bytes are written there:
   * adapters send its name, datatype and shape and no data (extension_shared_memory.md).
   */
  readonly sharedMemory?: {
    readonly region: string;
    readonly offset: number;
    readonly byteSize: number;
  };
}

/** A validated request as runtimes see it. */
export interface DecodedRequest {
  readonly id: string;
  readonly parameters: Parameters;
  readonly inputs: readonly Tensor[];
  readonly outputs?: readonly RequestOutput[];
}

/** An inference response (`$inference_response`). */
export interface InferenceResponse {
  readonly modelName: string;
  readonly modelVersion?: string;
  readonly id: string;
  readonly parameters?: Parameters;
  readonly outputs: readonly Tensor[];
}

/** Tensor metadata (`$metadata_tensor`); `-1` marks a variable dimension. */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly parameters?: Parameters;
}

/** Model metadata (`$metadata_model_response`). */
export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  readonly parameters?: Parameters;
}

/** Server metadata (`$metadata_server_response`). */
export interface ServerMetadata {
  readonly name: string;
  readonly version: string;
  readonly extensions: readonly string[];
}

/** Model lifecycle states, Triton's set (model_lifecycle.h) as MLServer reports them. */
export const ModelState = {
  UNKNOWN: 'UNKNOWN',
  READY: 'READY',
  UNAVAILABLE: 'UNAVAILABLE',
  LOADING: 'LOADING',
  UNLOADING: 'UNLOADING',
} as const;

/** One model lifecycle state. */
export type ModelState = (typeof ModelState)[keyof typeof ModelState];

/**
 * One entry of the repository index (`POST /v2/repository/index`): the contract's type, so the
 * agent and the operator read exactly what the server writes (`memory_bytes` included).
 */
export type RepositoryIndexEntry = Readonly<ContractIndexEntry>;

/** Per-request context the adapters pass to the core. */
export interface RequestContext {
  /** Incoming HTTP headers or gRPC metadata, lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Aborted when the client goes away or the deadline passes. */
  readonly signal?: AbortSignal;
  /** Which adapter received the request, for metrics and spans. */
  readonly protocol: 'rest' | 'grpc';
}
