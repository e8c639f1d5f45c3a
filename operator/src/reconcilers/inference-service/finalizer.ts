import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { PATCH } from '../../kube/client.js';
import { isNotFound } from '../../kube/errors.js';
import { RESOURCES, resourcePath } from '../../kube/resources.js';

/** The operator's finalizer: present only while some {@link Cleanup} is registered. */
export const CLEANUP_FINALIZER = 'serving.tessera.io/cleanup';

/**
 * Cleanup of state outside the API server (e.g. unloading a model from shared servers), run before
 * an InferenceService may go. Must be idempotent: it can run again after a crash or a retry, and
 * "already gone" (a 404 from the server it calls) counts as done.
 */
export interface Cleanup {
  readonly name: string;
  run(isvc: KubeObject, log: Logger): Promise<void>;
}

function path(isvc: KubeObject): string {
  return resourcePath(RESOURCES.InferenceService, {
    namespace: isvc.metadata?.namespace,
    name: isvc.metadata?.name,
  });
}

/** Whether the object carries the operator's finalizer. */
export function hasFinalizer(isvc: KubeObject): boolean {
  return (isvc.metadata?.finalizers ?? []).includes(CLEANUP_FINALIZER);
}

/**
 * Adds the finalizer. A merge patch carrying the read resourceVersion is an optimistic lock
 * (409 on a concurrent change), so another writer's finalizers are never dropped.
 */
export async function addFinalizer(client: KubeClient, isvc: KubeObject): Promise<void> {
  const finalizers = [...(isvc.metadata?.finalizers ?? []), CLEANUP_FINALIZER];
  await client.request('PATCH', path(isvc), {
    contentType: PATCH.merge,
    body: { metadata: { resourceVersion: isvc.metadata?.resourceVersion, finalizers } },
  });
}

/**
 * Runs every cleanup, then removes the finalizer so the deletion completes
 * (kubebuilder "Using Finalizers"). A 404 means the object is already gone: done.
 */
export async function finalize(
  client: KubeClient,
  isvc: KubeObject,
  cleanups: readonly Cleanup[],
  log: Logger,
): Promise<void> {
  for (const cleanup of cleanups) {
    await cleanup.run(isvc, log);
    log.info({ cleanup: cleanup.name }, 'Ran cleanup');
  }
  const finalizers = (isvc.metadata?.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
  try {
    await client.request('PATCH', path(isvc), {
      contentType: PATCH.merge,
      body: { metadata: { resourceVersion: isvc.metadata?.resourceVersion, finalizers } },
    });
    log.info('Removed finalizer');
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
