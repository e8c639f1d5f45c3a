import type { KubeClient, KubeObject } from './client.js';
import { PATCH } from './client.js';
import { resourcePath, type ResourceType } from './resources.js';

/** The identity of the object whose status is written, including the resourceVersion read. */
export interface StatusTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
  /** Precondition: the write fails with 409 if the object changed since it was read. */
  readonly resourceVersion?: string | undefined;
}

/**
 * Writes `status` through the status subresource with server-side apply. Conditions are a
 * list-map keyed by `type`, so conditions owned by other managers survive. The resourceVersion
 * precondition turns a concurrent change into a 409, which the caller retries after re-reading,
 * so status is never computed from a stale spec and no other writer's fields are lost.
 */
export async function applyStatus(
  client: KubeClient,
  type: ResourceType,
  target: StatusTarget,
  status: unknown,
  fieldManager: string,
): Promise<KubeObject> {
  const metadata: { name: string; namespace?: string; resourceVersion?: string } = {
    name: target.name,
  };
  if (target.namespace !== undefined) metadata.namespace = target.namespace;
  if (target.resourceVersion !== undefined) metadata.resourceVersion = target.resourceVersion;
  return client.request<KubeObject>(
    'PATCH',
    resourcePath(type, { namespace: target.namespace, name: target.name, subresource: 'status' }),
    {
      query: { fieldManager, force: true },
      body: { apiVersion: target.apiVersion, kind: target.kind, metadata, status },
      contentType: PATCH.apply,
    },
  );
}
