/**
 * Load and unload calls the driver has in flight, and the failures it must back off from.
 *
 * Only an optimisation over the level-triggered loop: the agent index is the truth, and the
 * agent joins a repeated identical load to the one in flight. What the tracker adds is that a
 * reconcile never waits for a pull (calls run in the background and re-queue the key when they
 * settle) and that a failing load is retried with exponential backoff, not on every reconcile.
 * Lost on restart by design: a new operator re-reads every agent and starts from there.
 */

/** A failed load of one storage URI on one replica. */
export interface LoadFailure {
  readonly storageUri: string;
  readonly message: string;
  /** RFC 3339. */
  readonly time: string;
  readonly attempts: number;
  /** Epoch ms before which the load is not retried. */
  readonly retryAt: number;
}

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

interface InFlight {
  readonly storageUri: string;
  readonly abort: AbortController;
}

/** Keys are `<pod uid>/<model>`. */
export class LoadTracker {
  readonly #inFlight = new Map<string, InFlight>();
  readonly #failures = new Map<string, LoadFailure>();

  constructor(
    private readonly backoff: BackoffOptions,
    private readonly now: () => number = Date.now,
  ) {}

  inFlight(pod: string, model: string): string | undefined {
    return this.#inFlight.get(`${pod}/${model}`)?.storageUri;
  }

  /** The last failure of loading `storageUri`, if that is what failed last. */
  failure(pod: string, model: string, storageUri: string): LoadFailure | undefined {
    const failure = this.#failures.get(`${pod}/${model}`);
    return failure?.storageUri === storageUri ? failure : undefined;
  }

  /**
   * Runs `call` in the background unless a call for this replica and model is in flight.
   * `settled` runs after it finished either way (the driver re-queues its key there).
   */
  start(
    pod: string,
    model: string,
    storageUri: string,
    call: (signal: AbortSignal) => Promise<void>,
    settled: () => void,
  ): void {
    const key = `${pod}/${model}`;
    if (this.#inFlight.has(key)) return;
    const abort = new AbortController();
    this.#inFlight.set(key, { storageUri, abort });
    call(abort.signal)
      .then(
        () => {
          this.#failures.delete(key);
        },
        (error: unknown) => {
          if (!abort.signal.aborted) this.#recordFailure(key, storageUri, error);
        },
      )
      .finally(() => {
        this.#inFlight.delete(key);
        settled();
      });
  }

  /** Records a failure the agent reported (its index says the pull or load failed). */
  noteFailure(pod: string, model: string, storageUri: string, message: string): void {
    const key = `${pod}/${model}`;
    if (this.#failures.get(key)?.storageUri === storageUri) return;
    this.#recordFailure(key, storageUri, new Error(message));
  }

  /** Forgets a success: the next failure starts the backoff from the beginning. */
  noteSuccess(pod: string, model: string): void {
    this.#failures.delete(`${pod}/${model}`);
  }

  /** Aborts and forgets everything about pods not in `live` (deleted or replaced). */
  retainPods(live: ReadonlySet<string>, prefixOf: (key: string) => string = podOf): void {
    for (const [key, entry] of this.#inFlight) {
      if (!live.has(prefixOf(key))) entry.abort.abort();
    }
    for (const key of this.#failures.keys()) {
      if (!live.has(prefixOf(key))) this.#failures.delete(key);
    }
  }

  /** Aborts every call (shutdown). */
  abortAll(): void {
    for (const entry of this.#inFlight.values()) entry.abort.abort();
  }

  #recordFailure(key: string, storageUri: string, error: unknown): void {
    const previous = this.#failures.get(key);
    const attempts = previous?.storageUri === storageUri ? previous.attempts + 1 : 1;
    const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempts - 1));
    const now = this.now();
    this.#failures.set(key, {
      storageUri,
      message: error instanceof Error ? error.message : String(error),
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      attempts,
      retryAt: now + delay,
    });
  }
}

function podOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}
