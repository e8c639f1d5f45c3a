import { ExponentialRateLimiter } from './rate-limiter.js';

/** Timer functions, injectable so unit tests control time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** Observes queue activity (metrics). */
export interface QueueObserver {
  onAdd?(): void;
  onRetry?(): void;
  onDepth?(depth: number): void;
}

/**
 * A keyed, de-duplicating work queue with client-go's semantics:
 * - a key waiting in the queue is held once, however often it is added ("dirty" set);
 * - a key being processed is never handed to a second worker; if it is added meanwhile, it is
 *   queued again when `done` is called (controller-runtime `pkg/controller/controller.go`);
 * - `addRateLimited` delays by the key's exponential backoff, `forget` resets it.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(
    readonly limiter = new ExponentialRateLimiter(),
    private readonly clock: Timers & { now(): number } = { ...realTimers, now: () => Date.now() },
    private readonly observer: QueueObserver = {},
  ) {}

  /** Number of keys waiting (not counting those being processed or delayed). */
  get length(): number {
    return this.queue.length;
  }

  /** Queues `key` unless it is already waiting. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.observer.onAdd?.();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.observer.onDepth?.(this.queue.length);
  }

  /** Queues `key` after `ms`; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.timers.get(key);
    if (existing !== undefined) {
      if (existing.at <= at) return;
      this.clock.clearTimeout(existing.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, handle });
  }

  /** Queues `key` after its backoff delay and counts a failure. Returns the delay. */
  addRateLimited(key: string): number {
    const ms = this.limiter.when(key);
    this.observer.onRetry?.();
    this.addAfter(key, ms);
    return ms;
  }

  /** Clears the key's failure count (after a success or a terminal error). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** Waits for the next key; `undefined` once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.observer.onDepth?.(this.queue.length);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` as finished; requeues it if it was added while being processed. */
  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key) || this.shuttingDown) return;
    this.dirty.delete(key);
    this.add(key);
  }

  /** Whether `key` is being processed now. */
  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Stops handing out keys; pending `get` calls resolve to `undefined`. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
