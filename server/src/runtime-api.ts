/**
 * The API for custom runtimes: what a model's own JavaScript module implements and the helpers it
 * uses to read inputs and build outputs. Imported as `@tessera/server/runtime-api`; the server
 * resolves that name for every custom runtime module, wherever the model folder lies.
 *
 * A custom runtime is the counterpart of MLServer's `MLModel` (mlserver-features.md §11): a class
 * with `load`, `predict`, and optionally `predictStream` and `unload`, named by `implementation`
 * in model-settings.json (`"./model.mjs"`, `"./model.mjs#TextModel"` or an installed package).
 * See docs/custom-runtimes.md.
 */
import type { Datatype } from './core/datatype.js';
import type { Parameters, RequestOutput, Tensor, TensorMetadata } from './core/types.js';

export type { Datatype, Parameters, RequestOutput, Tensor, TensorMetadata };

/** A request as a runtime receives it: inputs validated and decoded into typed arrays. */
export interface RuntimeRequest {
  readonly id: string;
  /** Request parameters; `headers` holds the HTTP headers or gRPC metadata. */
  readonly parameters: Parameters;
  readonly inputs: readonly Tensor[];
  /** The outputs the client asked for, when it asked. */
  readonly outputs?: readonly RequestOutput[];
}

/** Element values of an output: a typed array of the datatype's kind, or a plain array. */
export type OutputData =
  Tensor['data'] | readonly (number | bigint | boolean | string | Uint8Array)[];

/** One output tensor as a runtime returns it; the server checks it before sending it. */
export interface RuntimeOutput {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: OutputData;
  readonly parameters?: Parameters;
}

/** What `predict` returns, and what `predictStream` yields for each response. */
export interface RuntimeResponse {
  readonly outputs: readonly RuntimeOutput[];
  /** Response parameters; `headers` become HTTP headers or gRPC trailing metadata. */
  readonly parameters?: Parameters;
}

/** The model's settings as `load` receives them (model-settings.json, resolved). */
export interface RuntimeSettings {
  readonly name: string;
  readonly version?: string;
  readonly implementation: string;
  readonly platform: string;
  /** Absolute path of the model folder (the one holding model-settings.json). */
  readonly folder: string;
  /** Absolute path of `parameters.uri`, or the model folder. */
  readonly uri: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** `parameters.extra`: free-form settings for the runtime. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * A custom runtime. One instance serves one model version on one worker thread (a model with
 * `parallel_workers: 2` gets two instances); `load` runs before any request, `unload` after the
 * last one.
 */
export interface CustomRuntime {
  /**
   * Reads the artefacts. May be async. Returning (or resolving to) `false`, or throwing, fails the
   * load; anything else (nothing, `true`) means loaded, as MLServer's `load() -> bool`.
   */
  load(settings: RuntimeSettings): unknown;
  /** Answers one request. Throw {@link InputError} for a request the model cannot take (400). */
  predict(request: RuntimeRequest): RuntimeResponse | Promise<RuntimeResponse>;
  /**
   * Answers one request with a stream of responses (REST `infer_stream` / `generate_stream`, gRPC
   * `ModelStreamInfer`). When the client goes away the server calls the iterator's `return()`, so
   * `finally` blocks of an async generator run.
   */
  predictStream?(request: RuntimeRequest): AsyncIterable<RuntimeResponse>;
  /** Frees what `load` took. */
  unload?(): void | Promise<void>;
}

/** What a custom runtime module exports (by default, or under the name after `#`). */
export type CustomRuntimeClass = new () => CustomRuntime;

/** Thrown by a runtime for a request it refuses: the client gets a 400 / INVALID_ARGUMENT. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** The input called `name`; throws {@link InputError} naming the inputs there are. */
export function getInput(request: RuntimeRequest, name: string): Tensor {
  const input = request.inputs.find((t) => t.name === name);
  if (input !== undefined) return input;
  const names = request.inputs.map((t) => t.name).join(', ');
  throw new InputError(`input '${name}' is missing (the request has: ${names})`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** The elements of a BYTES tensor as UTF-8 text (MLServer's `str` content type). */
export function decodeStrings(tensor: Tensor): string[] {
  if (tensor.datatype !== 'BYTES') {
    throw new InputError(`input '${tensor.name}' must be BYTES, not ${tensor.datatype}`);
  }
  return (tensor.data as readonly Uint8Array[]).map((bytes, i) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw new InputError(`input '${tensor.name}': element ${i} is not UTF-8 text`);
    }
  });
}

/** The elements of a numeric tensor as numbers (64-bit integers exact up to 2^53). */
export function decodeNumbers(tensor: Tensor): number[] {
  if (tensor.datatype === 'BYTES' || tensor.datatype === 'FP16' || tensor.datatype === 'BF16') {
    throw new InputError(`input '${tensor.name}' must be numeric, not ${tensor.datatype}`);
  }
  return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
}

/** A BYTES output holding UTF-8 text, labelled `content_type: str` as MLServer's StringCodec does. */
export function encodeStrings(
  name: string,
  values: readonly string[],
  shape: readonly number[] = [values.length],
): RuntimeOutput {
  return {
    name,
    datatype: 'BYTES',
    shape,
    data: values.map((v) => utf8Encoder.encode(v)),
    parameters: { content_type: 'str' },
  };
}

/** A numeric output (content type `np`); `shape` defaults to one dimension. */
export function encodeNumbers(
  name: string,
  datatype: Exclude<Datatype, 'BYTES' | 'FP16' | 'BF16'>,
  values: readonly number[] | Tensor['data'],
  shape: readonly number[] = [values.length],
): RuntimeOutput {
  return { name, datatype, shape, data: values, parameters: { content_type: 'np' } };
}
