/**
 * Small interfaces through which the core reports what happens, implemented in observability/.
 * Keeping them here lets the core stay free of prom-client and pino (ARCHITECTURE.md invariants).
 */

/** Structured logger, pino-compatible: `log.info({ model }, 'Loaded model')`. */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The outcome of one inference, for metrics. */
export type InferOutcome = 'success' | 'failure';

/** Per-model metrics, recorded once in the core so both protocols count the same way. */
export interface CoreObserver {
  inferStarted(model: string, version: string): void;
  inferFinished(model: string, version: string, seconds: number, outcome: InferOutcome): void;
  /** A version loaded in `seconds`; `memoryBytes` is its runtime's estimate, when it has one. */
  modelLoaded(model: string, version: string, seconds: number, memoryBytes?: number): void;
  modelLoadFailed(model: string): void;
  modelUnloaded(model: string, version: string): void;
  /** One execution of an adaptively batched model, of `rows` rows (core/adaptive-batcher.ts). */
  batchExecuted(model: string, version: string, rows: number): void;
  /** How long one request of an adaptively batched model waited for its batch. */
  batchQueueWait(model: string, version: string, seconds: number): void;
  /** One lookup in the response cache for a model that uses it; `hit` when it held the answer. */
  cacheLookup(model: string, version: string, hit: boolean): void;
  /** One answer evicted from the response cache to make room. */
  cacheEvicted(): void;
}

/** An observer that records nothing, for unit tests. */
export const silentObserver: CoreObserver = {
  inferStarted: () => undefined,
  inferFinished: () => undefined,
  modelLoaded: () => undefined,
  modelLoadFailed: () => undefined,
  modelUnloaded: () => undefined,
  batchExecuted: () => undefined,
  batchQueueWait: () => undefined,
  cacheLookup: () => undefined,
  cacheEvicted: () => undefined,
};

/** A logger that writes nothing, for unit tests. */
export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
