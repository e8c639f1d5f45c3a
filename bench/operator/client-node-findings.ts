// Measures the @kubernetes/client-node 2.x behaviours that ADR 0009 cites, against a real
// control plane (test/cluster): connections per request through its fetch layer versus
// KubeConfigClient, what its Watch does with a handler error, how long an idle watch lives, and
// whether its informer restarts after a failed list. Usage: npm run bench:client-node
import { subscribe } from 'node:diagnostics_channel';

import {
  HttpMethod,
  KubeConfig,
  ListWatch,
  RequestContext,
  V1ListMeta,
  Watch,
  type KubernetesObject,
  type KubernetesListObject,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import { KubeConfigClient } from '../../operator/src/kube/kube-config-client.js';
import { controlPlane } from './control-plane.js';

const REQUESTS = 50;
let connections = 0;
subscribe('undici:client:connected', () => {
  connections++;
});

async function libraryFetchLayer(kc: KubeConfig, server: string): Promise<number> {
  const before = connections;
  for (let i = 0; i < REQUESTS; i++) {
    const ctx = new RequestContext(`${server}/api/v1/namespaces/default`, HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    const res = await fetch(ctx.getUrl(), {
      headers: ctx.getHeaders(),
      dispatcher: ctx.getDispatcher() as never,
    });
    await res.text();
  }
  return connections - before;
}

async function ours(kc: KubeConfig): Promise<number> {
  const client = new KubeConfigClient(kc);
  const before = connections;
  for (let i = 0; i < REQUESTS; i++) await client.request('GET', '/api/v1/namespaces/default');
  client.close();
  return connections - before;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function watchHandlerError(kc: KubeConfig, admin: KubeConfigClient): Promise<string> {
  let calls = 0;
  let done: unknown = 'not called';
  const ctl = await new Watch(kc).watch(
    '/api/v1/namespaces/default/configmaps',
    {},
    () => {
      calls++;
      throw new Error('handler failed');
    },
    (err: unknown) => (done = err ?? null),
  );
  for (const name of ['w1', 'w2'])
    await admin.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } },
    });
  await sleep(2000);
  ctl.abort();
  return `handler threw ${String(calls)} times; done callback: ${done === 'not called' ? 'never called (error swallowed, watch kept running)' : String(done)}`;
}

async function idleWatch(kc: KubeConfig): Promise<string> {
  const started = Date.now();
  const err = await new Promise<unknown>((resolve) => {
    void new Watch(kc).watch(
      '/api/v1/namespaces/kube-public/configmaps',
      { allowWatchBookmarks: true },
      () => undefined,
      resolve,
    );
  });
  return `idle watch ended after ${((Date.now() - started) / 1000).toFixed(1)} s with ${err instanceof Error ? err.name : String(err)}`;
}

async function informerAfterListError(kc: KubeConfig): Promise<string> {
  let lists = 0;
  const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    lists++;
    if (lists === 1) throw Object.assign(new Error('503 Service Unavailable'), { statusCode: 503 });
    return { metadata: new V1ListMeta(), items: [] };
  };
  const inf = new ListWatch('/api/v1/namespaces/default/configmaps', new Watch(kc), listFn, false);
  let errors = 0;
  inf.on('error', () => errors++);
  await inf.start().catch(() => errors++);
  await sleep(5000);
  await inf.stop();
  return `informer: ${String(errors)} error callback(s), ${String(lists)} list call(s) in 5 s after one failed list (it does not retry by itself)`;
}

const plane = await controlPlane();
try {
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfig);
  const admin = new KubeConfigClient(kc);
  const idle = idleWatch(kc);
  console.log(
    `${String(REQUESTS)} GETs: client-node fetch layer opened ${String(await libraryFetchLayer(kc, kc.getCurrentCluster()?.server ?? ''))} connections, KubeConfigClient ${String(await ours(kc))}`,
  );
  console.log(await watchHandlerError(kc, admin));
  console.log(await informerAfterListError(kc));
  console.log(await idle);
  admin.close();
} finally {
  await plane.stop();
}
