// API helpers for e2e tests: waiting on objects through a watch (no fixed sleeps) and resolving
// a Service to its pods' IPs the way the EndpointSlice controller would (README, "Network").
import type { KubeClient, KubeObject } from '../../../operator/src/kube/client.js';
import { Informer } from '../../../operator/src/controller/informer.js';
import { testLogger } from '../../integration/operator/cluster.js';
import type { Pod } from './pod-types.js';

export {
  createNamespace,
  deleteNamespace,
  kubeconfigPath,
  serviceAccountKubeConfig,
  testClient,
} from '../../integration/operator/cluster.js';

/** Options of {@link waitForObjects}. */
export interface WaitOptions {
  readonly labelSelector?: string;
  readonly timeoutMs?: number;
  /** Called on timeout; its text is appended to the error (e.g. the kubelet's container logs). */
  readonly diagnostics?: () => string;
}

/**
 * Watches a collection (list, then watch, relisting as needed) and resolves with the first
 * value `predicate` returns for the current objects other than undefined/false.
 */
export async function waitForObjects<T>(
  client: KubeClient,
  collectionPath: string,
  what: string,
  predicate: (objects: KubeObject[]) => T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  let last: KubeObject[] = [];
  let settle!: (value: T) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<T>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let informer: Informer | undefined = undefined;
  const check = (): void => {
    if (informer === undefined || !informer.hasSynced()) return;
    last = informer.list();
    try {
      const value = predicate(last);
      if (value !== undefined && value !== false) settle(value);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
  };
  informer = new Informer(client, {
    path: collectionPath,
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    resyncMs: 0,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    logger: testLogger(),
    onEvent: check,
  });
  const timer = setTimeout(() => {
    const seen = last.map((o) => `${o.metadata?.name ?? ''}: ${JSON.stringify(o['status'] ?? {})}`);
    fail(
      new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen:\n${seen.join('\n')}${
          options.diagnostics === undefined ? '' : `\n${options.diagnostics()}`
        }`,
      ),
    );
  }, timeoutMs);
  informer.start();
  void informer.waitForSync().then(check);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
    await informer.stop();
  }
}

/** Waits for one object (by name) of a collection; `predicate` also sees `undefined` (absent). */
export function waitForObject<T extends KubeObject>(
  client: KubeClient,
  collectionPath: string,
  name: string,
  what: string,
  predicate: (obj: T | undefined) => boolean,
  options: WaitOptions = {},
): Promise<T | undefined> {
  return waitForObjects(
    client,
    collectionPath,
    `${name}: ${what}`,
    (objects) => {
      const obj = objects.find((o) => o.metadata?.name === name) as T | undefined;
      return predicate(obj) ? { obj } : undefined;
    },
    options,
  ).then((r) => r.obj);
}

/** Whether a pod's Ready condition is True. */
export function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * The IPs of the ready pods a Service selects, as its EndpointSlices would list them (the
 * EndpointSlice controller cannot run here: slices reject loopback addresses).
 */
export async function serviceEndpoints(
  client: KubeClient,
  namespace: string,
  service: string,
): Promise<string[]> {
  const svc = await client.request<{ spec?: { selector?: Record<string, string> } }>(
    'GET',
    `/api/v1/namespaces/${namespace}/services/${service}`,
  );
  const selector = Object.entries(svc.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (selector === '') return [];
  const pods = await client.request<{ items: Pod[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/pods`,
    {
      query: { labelSelector: selector },
    },
  );
  return pods.items
    .filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined && podReady(p) && p.status?.podIP !== undefined,
    )
    .map((p) => p.status!.podIP!);
}
