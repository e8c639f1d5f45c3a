import type { KubeObject } from '../kube/client.js';

/** An equality-based label selector (`k1=v1,k2=v2`) as a map. */
export type LabelSelector = Readonly<Record<string, string>>;

function namespaceOf(obj: KubeObject): string {
  return obj.metadata?.namespace ?? '';
}

function labelTerm(namespace: string, key: string, value: string): string {
  // NUL cannot occur in a namespace or a label (RFC 1123 names, label syntax), so terms are unique.
  return `${namespace}\0${key}=${value}`;
}

function addTo(index: Map<string, Set<string>>, term: string, key: string): void {
  let set = index.get(term);
  if (set === undefined) {
    set = new Set();
    index.set(term, set);
  }
  set.add(key);
}

function removeFrom(index: Map<string, Set<string>>, term: string, key: string): void {
  const set = index.get(term);
  if (set === undefined) return;
  set.delete(key);
  if (set.size === 0) index.delete(term);
}

/** Whether `obj` carries every label of `selector`. */
export function matchesSelector(obj: KubeObject, selector: LabelSelector): boolean {
  const labels = obj.metadata?.labels;
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

/**
 * Cache keys by namespace and by (namespace, label, value), kept in step with an informer's
 * cache (client-go's `cache.Indexer` with the namespace index, plus one per label). A lookup
 * by selector walks the smallest bucket among the selector's labels instead of the whole
 * cache, so a reconcile that asks for "the pods of this InferenceService" stays O(its pods)
 * however many objects the cache holds.
 */
export class LabelIndex {
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly byLabel = new Map<string, Set<string>>();

  /** Records `obj` under `key`, replacing what `old` (its previous version) recorded. */
  update(key: string, obj: KubeObject, old: KubeObject | undefined): void {
    if (old !== undefined) this.remove(key, old);
    const ns = namespaceOf(obj);
    addTo(this.byNamespace, ns, key);
    for (const [k, v] of Object.entries(obj.metadata?.labels ?? {}))
      addTo(this.byLabel, labelTerm(ns, k, v), key);
  }

  /** Forgets what `obj` recorded under `key`. */
  remove(key: string, obj: KubeObject): void {
    const ns = namespaceOf(obj);
    removeFrom(this.byNamespace, ns, key);
    for (const [k, v] of Object.entries(obj.metadata?.labels ?? {}))
      removeFrom(this.byLabel, labelTerm(ns, k, v), key);
  }

  /**
   * Keys that may match: those of the namespace without a selector, else the smallest bucket
   * among the selector's labels (the caller still checks the other labels).
   */
  candidates(namespace: string, selector: LabelSelector | undefined): ReadonlySet<string> {
    const empty: ReadonlySet<string> = new Set();
    const entries = Object.entries(selector ?? {});
    if (entries.length === 0) return this.byNamespace.get(namespace) ?? empty;
    let best: ReadonlySet<string> | undefined;
    for (const [k, v] of entries) {
      const set = this.byLabel.get(labelTerm(namespace, k, v));
      if (set === undefined) return empty;
      if (best === undefined || set.size < best.size) best = set;
    }
    return best ?? empty;
  }
}
