/**
 * Per-model-version inference statistics in the shape of Triton's statistics extension
 * (extension_statistics.md; grpc_service.proto `ModelStatistics`), recorded once in the core so
 * REST and gRPC count the same requests the same way.
 *
 * Recording is a handful of number additions on objects created when the version loads: nothing is
 * allocated per request, except one entry the first time a batch size is seen. Durations are kept
 * as float nanoseconds (`performance.now()` deltas × 1e6), exact to 1 ns up to 2^53 ns (104 days
 * of cumulative time per counter); past that they lose precision rather than overflow.
 */

/** A count and the cumulative nanoseconds spent (Triton's `StatisticDuration`). */
export interface DurationStatistic {
  readonly count: number;
  readonly ns: number;
}

/** Triton's `InferStatistics`. */
export interface InferStatisticsSnapshot {
  readonly success: DurationStatistic;
  readonly fail: DurationStatistic;
  readonly queue: DurationStatistic;
  readonly compute_input: DurationStatistic;
  readonly compute_infer: DurationStatistic;
  readonly compute_output: DurationStatistic;
  readonly cache_hit: DurationStatistic;
  readonly cache_miss: DurationStatistic;
}

/** Triton's `InferBatchStatistics`: executions of one batch size. */
export interface BatchStatisticsSnapshot {
  readonly batch_size: number;
  readonly compute_input: DurationStatistic;
  readonly compute_infer: DurationStatistic;
  readonly compute_output: DurationStatistic;
}

/**
 * Triton's `ModelStatistics` for one model version, with Triton's field names: its JSON form on
 * REST and, field for field, the gRPC message, so neither adapter renames.
 */
export interface ModelStatisticsSnapshot {
  readonly name: string;
  readonly version: string;
  /** Milliseconds since the epoch of the last inference; 0 when there was none. */
  readonly last_inference: number;
  readonly inference_count: number;
  readonly execution_count: number;
  readonly inference_stats: InferStatisticsSnapshot;
  readonly batch_stats: readonly BatchStatisticsSnapshot[];
}

class Duration {
  count = 0;
  ns = 0;

  add(ms: number): void {
    this.count++;
    this.ns += ms * 1e6;
  }

  snapshot(): DurationStatistic {
    return { count: this.count, ns: Math.round(this.ns) };
  }
}

class BatchDurations {
  readonly computeInput = new Duration();
  readonly computeInfer = new Duration();
  readonly computeOutput = new Duration();
}

/**
 * The counters of one loaded model version. Times are `performance.now()` readings in
 * milliseconds, taken by the data plane at the phase boundaries of one request.
 */
export class InferenceStatistics {
  #lastInference = 0;
  #inferenceCount = 0;
  #executionCount = 0;
  readonly #success = new Duration();
  readonly #fail = new Duration();
  readonly #queue = new Duration();
  readonly #computeInput = new Duration();
  readonly #computeInfer = new Duration();
  readonly #computeOutput = new Duration();
  readonly #batches = new Map<number, BatchDurations>();
  readonly #cacheHit = new Duration();
  readonly #cacheMiss = new Duration();

  /**
   * One request answered from the response cache: a success of `inferences` inferences with no
   * execution (Triton counts cache hits in success and inference_count, not in execution_count
   * or the compute phases), and `lookupMs` in cache_hit.
   */
  recordCacheHit(inferences: number, started: number, finished: number, lookupMs: number): void {
    this.#lastInference = Date.now();
    this.#inferenceCount += inferences;
    this.#success.add(finished - started);
    this.#cacheHit.add(lookupMs);
  }

  /** The lookup and insert of a request the cache could not answer (Triton's cache_miss). */
  recordCacheMiss(lookupAndInsertMs: number): void {
    this.#cacheMiss.add(lookupAndInsertMs);
  }

  /**
   * One successful request of `batchSize` inferences, executed alone. Phases as Triton names them:
   * compute_input = decoding and validating the inputs, queue = waiting for a worker thread of the
   * model (from `inputsDone` to `dispatched`; 0 ns on the main thread), compute_infer = the model's
   * run, compute_output = checking and assembling the outputs.
   */
  recordSuccess(
    batchSize: number,
    started: number,
    inputsDone: number,
    dispatched: number,
    inferDone: number,
    finished: number,
  ): void {
    this.recordBatchedSuccess(batchSize, started, inputsDone, dispatched, inferDone, finished);
    this.recordExecution(
      batchSize,
      inputsDone - started,
      inferDone - dispatched,
      finished - inferDone,
    );
  }

  /**
   * The request half of a success: one request of `inferences` rows whose execution may have been
   * shared with others (adaptive batching). `dispatched` is when its batch left the queue, so
   * queue = dispatched − inputsDone, as Triton counts time in its scheduler queue.
   */
  recordBatchedSuccess(
    inferences: number,
    started: number,
    inputsDone: number,
    dispatched: number,
    inferDone: number,
    finished: number,
  ): void {
    this.#lastInference = Date.now();
    this.#inferenceCount += inferences;
    this.#success.add(finished - started);
    this.#queue.add(dispatched - inputsDone);
    this.#computeInput.add(inputsDone - started);
    this.#computeInfer.add(inferDone - dispatched);
    this.#computeOutput.add(finished - inferDone);
  }

  /**
   * The execution half: one runtime call of `batchSize` rows (Triton's `execution_count` and
   * `batch_stats`, which count executions, not requests). Durations in milliseconds.
   */
  recordExecution(
    batchSize: number,
    computeInputMs: number,
    computeInferMs: number,
    computeOutputMs: number,
  ): void {
    this.#executionCount++;
    let batch = this.#batches.get(batchSize);
    if (batch === undefined) {
      batch = new BatchDurations();
      this.#batches.set(batchSize, batch);
    }
    batch.computeInput.add(computeInputMs);
    batch.computeInfer.add(computeInferMs);
    batch.computeOutput.add(computeOutputMs);
  }

  /** One request that reached the model and failed (bad input, runtime error, timeout, cancel). */
  recordFailure(started: number, finished: number): void {
    this.#lastInference = Date.now();
    this.#fail.add(finished - started);
  }

  /** A copy of the counters, for one answer. */
  snapshot(name: string, version: string): ModelStatisticsSnapshot {
    return {
      name,
      version,
      last_inference: this.#lastInference,
      inference_count: this.#inferenceCount,
      execution_count: this.#executionCount,
      inference_stats: {
        success: this.#success.snapshot(),
        fail: this.#fail.snapshot(),
        queue: this.#queue.snapshot(),
        compute_input: this.#computeInput.snapshot(),
        compute_infer: this.#computeInfer.snapshot(),
        compute_output: this.#computeOutput.snapshot(),
        // Zeros while the model does not use the response cache, as in Triton.
        cache_hit: this.#cacheHit.snapshot(),
        cache_miss: this.#cacheMiss.snapshot(),
      },
      batch_stats: [...this.#batches.entries()]
        .sort(([a], [b]) => a - b)
        .map(([batchSize, b]) => ({
          batch_size: batchSize,
          compute_input: b.computeInput.snapshot(),
          compute_infer: b.computeInfer.snapshot(),
          compute_output: b.computeOutput.snapshot(),
        })),
    };
  }
}
