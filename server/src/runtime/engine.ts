/**
 * The contract between a runtime-agnostic worker thread (runtime/engine-worker.ts) and the code
 * that evaluates one kind of model there. An engine module exports `open`, which reads a model and
 * returns an {@link Engine}; the worker keeps engines by id and runs requests on them. Nothing in
 * this contract names a framework, so any runtime whose evaluation is synchronous, CPU-bound code
 * (tree models today, ONNX sessions later) can share the same threads.
 */

/** A loaded model inside a thread. */
export interface Engine<Request = unknown, Response = unknown, Metadata = unknown> {
  /** What the model says about itself; sent back to the main thread once, at open. */
  readonly metadata: Metadata;
  /** Evaluates one request; what it returns must be structured-cloneable. */
  run(request: Request): Response | Promise<Response>;
  /** Evaluates one request into a stream of responses (custom runtimes' `predictStream`). */
  stream?(request: Request): AsyncIterator<unknown>;
  /** Frees native or large resources; the engine is dropped afterwards. */
  close?(): void | Promise<void>;
}

/** What an engine module exports. `args` must be structured-cloneable. */
export interface EngineModule<Args = unknown> {
  open(args: Args): Engine | Promise<Engine>;
}

/** Whether a dynamically imported module is an {@link EngineModule}. */
export function isEngineModule(value: unknown): value is EngineModule {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { open?: unknown }).open === 'function'
  );
}
