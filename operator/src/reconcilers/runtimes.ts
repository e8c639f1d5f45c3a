import type { Logger } from 'pino';
import { servingRuntimeSchema, type ServingRuntime } from '../api/v1alpha1/index.js';
import type { LabelSelector } from '../controller/label-index.js';
import type { KubeObject } from '../kube/client.js';

/** A read-only view of an informer cache. */
export interface ObjectCache {
  get(key: string): KubeObject | undefined;
  list(): KubeObject[];
  /** Objects of `namespace` carrying every label of `selector` (indexed, not scanned). */
  select(namespace: string, selector?: LabelSelector): KubeObject[];
}

/** The runtimes an InferenceService in `namespace` may select, parsed (invalid ones skipped). */
export function runtimesFor(
  caches: { readonly servingRuntimes: ObjectCache; readonly clusterServingRuntimes: ObjectCache },
  namespace: string,
  log: Logger,
): { namespaced: ServingRuntime[]; cluster: ServingRuntime[] } {
  return {
    namespaced: parseRuntimes(caches.servingRuntimes.select(namespace), log),
    cluster: parseRuntimes(caches.clusterServingRuntimes.list(), log),
  };
}

function parseRuntimes(objects: KubeObject[], log: Logger): ServingRuntime[] {
  const out: ServingRuntime[] = [];
  for (const obj of objects) {
    const parsed = servingRuntimeSchema.safeParse(obj);
    if (parsed.success) out.push(parsed.data);
    else
      log.warn(
        { runtime: obj.metadata?.name, err: parsed.error.message },
        'Ignored invalid runtime',
      );
  }
  return out;
}

/** The key of a runtime's pool in a namespace (the placement controller's queue key). */
export function poolKey(
  namespace: string,
  runtime: { readonly kind: string; readonly metadata: { readonly name: string } },
): string {
  return `${namespace}/${runtime.kind}:${runtime.metadata.name}`;
}

/** Splits a pool key; undefined if it is not one. */
export function parsePoolKey(
  key: string,
):
  | { namespace: string; kind: 'ServingRuntime' | 'ClusterServingRuntime'; name: string }
  | undefined {
  const match = /^([^/]*)\/(ServingRuntime|ClusterServingRuntime):(.+)$/.exec(key);
  if (match === null) return undefined;
  const [, namespace = '', kind, name = ''] = match;
  return { namespace, kind: kind as 'ServingRuntime' | 'ClusterServingRuntime', name };
}
