import type { KubeObject } from '../kube/client.js';
import type { Informer } from './informer.js';
import type { LabelSelector } from './label-index.js';

/** What the operator needs of a cache: one informer, or one per watched namespace. */
export type WatchCache = Pick<
  Informer,
  'start' | 'stop' | 'hasSynced' | 'waitForSync' | 'get' | 'list' | 'select'
>;

/**
 * One informer per watched namespace behind the surface of a single one. A namespace-scoped
 * install holds Roles in its namespaces only, so it may not list a kind across the cluster; it
 * lists and watches each namespace instead (controller-runtime's `cache.Options.DefaultNamespaces`
 * does the same). Keys are `namespace/name`, so a lookup goes straight to its namespace's part.
 * With no parts it is an always-synced empty cache (a kind the install may not read).
 */
export class NamespacedInformers implements WatchCache {
  constructor(private readonly parts: ReadonlyMap<string, Informer>) {}

  start(): void {
    for (const part of this.parts.values()) part.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.parts.values()].map((p) => p.stop()));
  }

  hasSynced(): boolean {
    return [...this.parts.values()].every((p) => p.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.parts.values()].map((p) => p.waitForSync()));
  }

  get(key: string): KubeObject | undefined {
    const slash = key.indexOf('/');
    return slash < 0 ? undefined : this.parts.get(key.slice(0, slash))?.get(key);
  }

  list(): KubeObject[] {
    return [...this.parts.values()].flatMap((p) => p.list());
  }

  select(namespace: string, selector?: LabelSelector): KubeObject[] {
    return this.parts.get(namespace)?.select(namespace, selector) ?? [];
  }
}
