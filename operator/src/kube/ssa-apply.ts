import type { KubeClient, KubeObject } from './client.js';
import { PATCH } from './client.js';
import { resourcePath, type ResourceType } from './resources.js';

/**
 * Server-side apply of a whole desired object (API concepts, "Server-Side Apply"). `force`
 * takes ownership of fields another manager set, as a controller must: the desired state wins.
 */
export async function applyObject<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  desired: KubeObject,
  fieldManager: string,
): Promise<T> {
  const path = resourcePath(type, {
    namespace: desired.metadata?.namespace,
    name: desired.metadata?.name,
  });
  return client.request<T>('PATCH', path, {
    query: { fieldManager, force: true },
    body: desired,
    contentType: PATCH.apply,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether every field of `desired` is present with the same value in `live`. Fields only in
 * `live` (apiserver defaults, other managers' fields, status) are ignored. Lists must have the
 * same length and match element by element. This is how the operator avoids sending an apply
 * that would change nothing, so a converged object sees zero writes.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return false;
    return desired.every((item, i) => isSubset(item, live[i]));
  }
  if (isRecord(desired)) {
    if (!isRecord(live)) return false;
    return Object.entries(desired).every(([k, v]) => v === undefined || isSubset(v, live[k]));
  }
  return desired === live;
}

/** Whether `desired` must be applied: the object is missing or differs from what we want. */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  return live === undefined || !isSubset(desired, live);
}

/**
 * Whether `manager` owns the field at `path` (e.g. `['f:spec', 'f:replicas']`) through an
 * Apply entry in `metadata.managedFields`.
 */
export function ownsField(live: KubeObject | undefined, manager: string, path: string[]): boolean {
  const entries = live?.metadata?.managedFields ?? [];
  return entries.some((entry) => {
    if (entry.manager !== manager || entry.operation !== 'Apply') return false;
    let node: unknown = entry.fieldsV1;
    for (const segment of path) {
      if (!isRecord(node)) return false;
      node = node[segment];
    }
    return node !== undefined;
  });
}
