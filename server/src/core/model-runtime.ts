/**
 * The contract between the core and the inference runtimes (ONNX, tree models, custom ones). The
 * core owns the interface; runtime/ implements it, so the core never imports a framework.
 */
import type { ContentType } from './codecs/content-type.js';
import type { TritonNames } from './model-config.js';
import type { ModelSettings } from './model-settings.js';
import type { DecodedRequest, Parameters, Tensor, TensorMetadata } from './types.js';

/** What a loaded model says about itself. */
export interface InstanceMetadata {
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  readonly parameters?: Parameters;
  /**
   * Whether requests are read the way MLServer's runtimes read them (core/codecs/decode-request.ts):
   * a single input whatever it is called (the docs send `predict`, `predict-prob`; NumpyRequestCodec
   * sends `input-0`), a dataframe (`pd`) of named columns side by side as the features, `[N]` as
   * `[N, 1]`, and any numeric datatype converted to the model's. Otherwise inputs match by name and
   * datatype exactly, as Triton does.
   */
  readonly mlserverInputs?: boolean;
  /**
   * The content type a request and its outputs have when nothing names one (MLServer's runtimes:
   * `np`, their `default_codec`). Outputs are then labelled with it in `parameters.content_type`.
   */
  readonly defaultContentType?: ContentType;
  /**
   * Whether the runtime applies content types itself (MLServer's Python runtimes, whose codecs,
   * custom ones such as HuggingFace's `pil_image` included, decode inputs and encode outputs in
   * the worker). The core then reads the wire data only, passes every tensor's `parameters`
   * through unchanged, and leaves the outputs as the runtime made them; decoding a `base64` input
   * here as well would hand MLServer's Base64Codec bytes it has to decode a second time.
   */
  readonly appliesContentTypes?: boolean;
  /** Output names the model knows but cannot produce, with the reason (e.g. `predict_proba` on a regressor). */
  readonly unavailableOutputs?: Readonly<Record<string, string>>;
}

/** Options of {@link ModelInstance.infer}. */
export interface InferOptions {
  readonly outputNames?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onComputed?: (computeMs: number) => void;
}

/** The result of one inference: output tensors plus optional response parameters (e.g. headers). */
export interface RuntimeResult {
  readonly outputs: readonly Tensor[];
  readonly parameters?: Parameters;
}

/** One loaded model version. */
/**
 * A REST route a model's own code serves beside the V2 API (MLServer's `@custom_handler`: MLflow's
 * `POST /invocations`), mounted at the server root as MLServer mounts it. `path` is a Starlette
 * path template (`/invocations`, `/items/{id}`); the core matches requests to it
 * (core/custom-handlers.ts) and the runtime's own framework routes them.
 */
export interface CustomRoute {
  readonly method: string;
  readonly path: string;
}

/** An HTTP request for a custom route, as it arrived (raw path and query, lower-cased names). */
export interface CustomRequest {
  readonly method: string;
  /** The path as sent, percent-encoding kept, without the query. */
  readonly path: string;
  /** The query string without its `?` ('' when none). */
  readonly query: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

/** A custom route's answer, as the model's code made it. */
export interface CustomResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

export interface ModelInstance {
  readonly metadata: InstanceMetadata;
  /**
   * The runtime's estimate of the memory this instance holds, in bytes, over all its copies
   * (one per worker thread); reported in the repository index as `memory_bytes` and used by the
   * operator's placement. Undefined when the runtime cannot tell.
   */
  readonly memoryBytes?: number;
  /**
   * Runs inference on validated inputs. `outputNames` lists the outputs wanted, or all when absent.
   * A runtime that computes on a worker thread calls `onComputed` with how long the model itself
   * computed (milliseconds), so the core counts the rest of the call (waiting for a free thread,
   * the hand-off) as queue time in the statistics extension, as Triton does; one that computes on
   * the calling thread need not call it.
   */
  infer(request: DecodedRequest, options: InferOptions): Promise<RuntimeResult>;
  /**
   * Runs inference as a stream of results (Triton's decoupled models, MLServer's `predict_stream`).
   * Absent when the runtime answers one result per request. Calling `return()` on the iterator
   * stops the stream and frees what it holds.
   */
  inferStream?(
    request: DecodedRequest,
    options: { outputNames?: readonly string[] },
  ): AsyncIterator<RuntimeResult>;
  /** Frees the model's resources. Called once, after in-flight requests have drained. */
  unload(): Promise<void>;
  /**
   * Why the instance cannot serve right now although it is loaded (its Python worker died and is
   * being restarted, the model to be loaded again), or undefined while it serves. The repository
   * index then says UNAVAILABLE with this reason and model readiness is false, so the agent and
   * the operator see the truth instead of READY.
   */
  unavailable?(): string | undefined;
  /** The REST routes the model's own code serves (MLServer's custom handlers); absent: none. */
  readonly customRoutes?: readonly CustomRoute[];
  /** Answers a request for one of {@link customRoutes}; the signal abandons it. */
  handleCustom?(request: CustomRequest, signal?: AbortSignal): Promise<CustomResponse>;
}

/** A runtime: turns settings into a loaded instance. */
export interface ModelRuntime {
  /** The canonical `implementation` name, e.g. `onnx`. */
  readonly name: string;
  /** Other `implementation` values that select this runtime (MLServer class paths). */
  readonly aliases: readonly string[];
  /**
   * The runtime's names in a Triton model configuration (`platform`, `backend`); absent means
   * backend = `name` and no platform. Also accepted in a load's `config` to select this runtime.
   */
  readonly triton?: TritonNames;
  /**
   * Whether this runtime serves an `implementation` that is neither its name nor an alias (a
   * custom runtime's module path or package name). Asked only after every name and alias missed.
   */
  accepts?(implementation: string): boolean;
  load(settings: ModelSettings): Promise<ModelInstance>;
  /** Frees what the runtime shares between instances (worker threads); called after every unload at shutdown. */
  close?(): Promise<void>;
}
