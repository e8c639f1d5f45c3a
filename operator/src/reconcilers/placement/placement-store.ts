/**
 * Where each Shared-mode InferenceService was placed, or why it could not be: written by the
 * placement reconciler, read by the InferenceService reconciler (Service selector, status) and
 * by the model driver (which pods to load on). Listeners hear only of real changes.
 */

/** One InferenceService's place in its runtime's pool. */
export type PlacementResult =
  | {
      readonly kind: 'placed';
      readonly shardName: string;
      readonly selector: Readonly<Record<string, string>>;
      readonly runtime: {
        readonly name: string;
        readonly kind: 'ServingRuntime' | 'ClusterServingRuntime';
      };
    }
  | { readonly kind: 'unplaced'; readonly reason: string };

export class PlacementStore {
  readonly #byKey = new Map<string, { json: string; value: PlacementResult }>();
  readonly #listeners: ((key: string) => void)[] = [];

  get(key: string): PlacementResult | undefined {
    return this.#byKey.get(key)?.value;
  }

  set(key: string, value: PlacementResult): void {
    const json = JSON.stringify(value);
    if (this.#byKey.get(key)?.json === json) return;
    this.#byKey.set(key, { json, value });
    for (const listener of this.#listeners) listener(key);
  }

  delete(key: string): void {
    if (this.#byKey.delete(key)) for (const listener of this.#listeners) listener(key);
  }

  /** Keys currently recorded for a pool (to forget those that left it). */
  keysOf(predicate: (value: PlacementResult) => boolean): string[] {
    return [...this.#byKey.entries()].filter(([, v]) => predicate(v.value)).map(([k]) => k);
  }

  onChange(listener: (key: string) => void): void {
    this.#listeners.push(listener);
  }
}
