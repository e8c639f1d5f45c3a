/**
 * What the model driver observed on each replica of an InferenceService, shared with the
 * InferenceService reconciler, which turns it into status. The store holds the latest
 * observation per InferenceService and says when it changed, so status is recomputed (and
 * written) only on a real change.
 */

/** The desired model's state on one replica, in KServe's vocabulary. */
export type ReplicaModelState = 'Pending' | 'Loading' | 'Loaded' | 'FailedToLoad';

/** One replica (pod) as the driver last saw it through its agent. */
export interface ReplicaObservation {
  /** Pod name. */
  readonly pod: string;
  /** State of the desired model (name + storage URI) on this replica. */
  readonly state: ReplicaModelState;
  /**
   * The storage URI this replica serves right now through its Service (its server reports it
   * READY and the pod passed its readiness probe), maybe an older one during an update.
   */
  readonly serving?: string;
  /** Why the state is not Loaded, in the user's terms. */
  readonly reason?: string;
  /** When the last failure happened (RFC 3339), for lastFailureInfo. */
  readonly failureTime?: string;
  /**
   * Memory the replica's server reports for the desired model while it holds it (the index's
   * `memory_bytes` over its versions), rounded up to MiB so a steady model is a steady figure.
   */
  readonly memoryBytes?: number;
}

/** Observations of one InferenceService, sorted by pod name. */
export type Observations = readonly ReplicaObservation[];

/** Latest observations per InferenceService key, with change notification. */
export class ObservationStore {
  readonly #byKey = new Map<string, { json: string; value: Observations }>();
  readonly #listeners: ((key: string) => void)[] = [];

  get(key: string): Observations | undefined {
    return this.#byKey.get(key)?.value;
  }

  /** Records `value`; listeners hear of it only when it differs from what was there. */
  set(key: string, value: Observations): void {
    const sorted = [...value].sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
    const json = JSON.stringify(sorted);
    if (this.#byKey.get(key)?.json === json) return;
    this.#byKey.set(key, { json, value: sorted });
    for (const listener of this.#listeners) listener(key);
  }

  /** Forgets a key whose InferenceService is gone or going; nobody needs to hear of it. */
  delete(key: string): void {
    this.#byKey.delete(key);
  }

  onChange(listener: (key: string) => void): void {
    this.#listeners.push(listener);
  }
}
