import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Informer } from '../../../operator/src/controller/informer.js';
import { NamespacedInformers } from '../../../operator/src/controller/namespaced-informers.js';
import type {
  KubeClient,
  KubeList,
  KubeObject,
  WatchEvent,
} from '../../../operator/src/kube/client.js';

/** An in-memory client whose lists answer by path; every watch stays idle until stopped. */
class PathClient implements KubeClient {
  readonly listed: string[] = [];
  constructor(private readonly byPath: Record<string, KubeObject[]>) {}

  request<T>(_method: string, path: string): Promise<T> {
    this.listed.push(path);
    const list: KubeList = { items: this.byPath[path] ?? [], metadata: { resourceVersion: '1' } };
    return Promise.resolve(list as T);
  }

  async watch(
    _path: string,
    _query: Record<string, unknown>,
    _onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    await new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => {
        resolve();
      });
    });
  }
}

function pod(namespace: string, name: string, labels: Record<string, string> = {}): KubeObject {
  return { metadata: { namespace, name, labels, resourceVersion: '1' } };
}

describe('NamespacedInformers', () => {
  it('lists each namespace on its own and answers get, list and select across them', async () => {
    const client = new PathClient({
      '/api/v1/namespaces/a/pods': [pod('a', 'p1', { app: 'x' }), pod('a', 'p2')],
      '/api/v1/namespaces/b/pods': [pod('b', 'p1', { app: 'x' })],
    });
    const part = (ns: string): Informer =>
      new Informer(client, {
        path: `/api/v1/namespaces/${ns}/pods`,
        resyncMs: 0,
        onEvent: () => undefined,
        logger: pino({ level: 'silent' }),
      });
    const cache = new NamespacedInformers(
      new Map([
        ['a', part('a')],
        ['b', part('b')],
      ]),
    );
    assert.equal(cache.hasSynced(), false);
    cache.start();
    await cache.waitForSync();
    try {
      assert.equal(cache.hasSynced(), true);
      assert.deepEqual(client.listed.sort(), [
        '/api/v1/namespaces/a/pods',
        '/api/v1/namespaces/b/pods',
      ]);
      assert.equal(cache.get('b/p1')?.metadata?.namespace, 'b');
      assert.equal(cache.get('c/p1'), undefined);
      assert.equal(cache.get('p1'), undefined);
      assert.equal(cache.list().length, 3);
      assert.deepEqual(
        cache.select('a', { app: 'x' }).map((o) => o.metadata?.name),
        ['p1'],
      );
      assert.deepEqual(cache.select('c'), []);
    } finally {
      await cache.stop();
    }
  });

  it('with no namespaces is an empty cache that is synced at once', async () => {
    const cache = new NamespacedInformers(new Map());
    cache.start();
    await cache.waitForSync();
    assert.equal(cache.hasSynced(), true);
    assert.deepEqual(cache.list(), []);
    await cache.stop();
  });
});
