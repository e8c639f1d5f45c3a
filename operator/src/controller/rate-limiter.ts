/**
 * Per-key exponential backoff: base * 2^failures, capped. The defaults are controller-runtime's
 * `NewTypedItemExponentialFailureRateLimiter(5*time.Millisecond, 1000*time.Second)`.
 */
export class ExponentialRateLimiter {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  /** Delay before the next retry of `key`; counts one more failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity past n = 1023; Math.min still caps it.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  /** Failures recorded for `key` since it last succeeded. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resets `key` after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }
}

/**
 * "Full jitter" backoff for reconnects: a random delay in [0, min(max, base * 2^attempt)], so
 * many clients restarting at once do not hammer the apiserver in step.
 */
export function jitteredBackoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
