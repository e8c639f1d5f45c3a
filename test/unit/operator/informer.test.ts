import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Informer, type InformerEventType } from '../../../operator/src/controller/informer.js';
import type {
  KubeClient,
  KubeList,
  KubeObject,
  RequestOptions,
  WatchEvent,
} from '../../../operator/src/kube/client.js';
import { KubeApiError } from '../../../operator/src/kube/errors.js';

type WatchScript = (
  onEvent: (e: WatchEvent) => void,
  query: Record<string, unknown>,
  signal: AbortSignal,
) => Promise<void>;

/** An in-memory client: lists return `items`, each watch call runs the next script. */
class FakeClient implements KubeClient {
  lists = 0;
  watchQueries: Record<string, unknown>[] = [];
  constructor(
    public items: KubeObject[],
    private readonly scripts: WatchScript[],
    public listRv = '10',
  ) {}

  request<T>(method: string, _path: string, _options?: RequestOptions): Promise<T> {
    assert.equal(method, 'GET');
    this.lists++;
    const list: KubeList = { items: this.items, metadata: { resourceVersion: this.listRv } };
    return Promise.resolve(list as T);
  }

  async watch(
    _path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchQueries.push(query);
    const script = this.scripts.shift();
    if (script === undefined) {
      // No more scripts: block until stopped, like an idle watch.
      await new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          resolve();
        });
      });
      return;
    }
    await script(onEvent, query, signal);
  }
}

function obj(name: string, rv: string): KubeObject {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv } };
}

function recorder(): { events: string[]; onEvent: (t: InformerEventType, o: KubeObject) => void } {
  const events: string[] = [];
  return {
    events,
    onEvent: (t, o) =>
      events.push(`${t}:${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`),
  };
}

const logger = pino({ level: 'silent' });

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion and applies events to its cache', async () => {
    const client = new FakeClient(
      [obj('a', '5')],
      [
        (on) => {
          on({ type: 'ADDED', object: obj('b', '11') });
          on({ type: 'MODIFIED', object: obj('a', '12') });
          on({ type: 'DELETED', object: obj('b', '13') });
          on({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
          return Promise.resolve();
        },
      ],
    );
    const rec = recorder();
    const inf = new Informer(client, {
      path: '/x',
      resyncMs: 0,
      onEvent: rec.onEvent,
      logger,
      backoffBaseMs: 1,
    });
    inf.start();
    await inf.waitForSync();
    await until(() => client.watchQueries.length >= 2);
    await inf.stop();
    assert.deepEqual(rec.events, ['add:a@5', 'add:b@11', 'update:a@12', 'delete:b@13']);
    assert.equal(client.watchQueries[0]?.['resourceVersion'], '10');
    assert.equal(
      client.watchQueries[1]?.['resourceVersion'],
      '20',
      'a bookmark advances the resourceVersion',
    );
    assert.deepEqual(
      inf.list().map((o) => o.metadata?.name),
      ['a'],
    );
    assert.equal(client.lists, 1);
  });

  it('selects by namespace and labels through its index, following updates and deletes', async () => {
    const labelled = (
      name: string,
      namespace: string,
      rv: string,
      labels: Record<string, string>,
    ): KubeObject => ({ metadata: { name, namespace, resourceVersion: rv, labels } });
    const client = new FakeClient(
      [
        labelled('p1', 'ns', '1', { app: 'a', shard: '0' }),
        labelled('p2', 'ns', '2', { app: 'a', shard: '1' }),
        labelled('p3', 'other', '3', { app: 'a', shard: '0' }),
      ],
      [
        (on) => {
          on({ type: 'MODIFIED', object: labelled('p2', 'ns', '11', { app: 'b', shard: '1' }) });
          on({ type: 'DELETED', object: labelled('p3', 'other', '12', { app: 'a' }) });
          on({ type: 'ADDED', object: labelled('p4', 'ns', '13', { app: 'a', shard: '0' }) });
          return Promise.resolve();
        },
      ],
    );
    const inf = new Informer(client, { path: '/x', resyncMs: 0, onEvent: () => {}, logger });
    inf.start();
    await inf.waitForSync();
    const names = (ns: string, sel?: Record<string, string>): string[] =>
      inf
        .select(ns, sel)
        .map((o) => o.metadata?.name ?? '')
        .sort();
    await until(() => inf.get('ns/p4') !== undefined);
    await inf.stop();
    assert.deepEqual(names('ns'), ['p1', 'p2', 'p4']);
    assert.deepEqual(names('ns', { app: 'a' }), ['p1', 'p4'], 'p2 moved to app=b');
    assert.deepEqual(names('ns', { app: 'a', shard: '0' }), ['p1', 'p4']);
    assert.deepEqual(names('ns', { app: 'b', shard: '0' }), []);
    assert.deepEqual(names('ns', { app: 'missing' }), []);
    assert.deepEqual(names('other'), [], 'a deleted object leaves every index');
    assert.deepEqual(names('other', { app: 'a' }), []);
  });

  it('relists on 410 Gone and reports objects that vanished during the gap', async () => {
    const client = new FakeClient(
      [obj('a', '5'), obj('b', '6')],
      [
        (on) => {
          on({
            type: 'ERROR',
            object: {
              kind: 'Status',
              code: 410,
              reason: 'Expired',
              message: 'too old resource version',
            },
          });
          return Promise.resolve();
        },
      ],
    );
    const rec = recorder();
    const inf = new Informer(client, {
      path: '/x',
      resyncMs: 0,
      onEvent: rec.onEvent,
      logger,
      backoffBaseMs: 1,
    });
    inf.start();
    await inf.waitForSync();
    client.items = [obj('a', '7')]; // b was deleted and a changed while the watch was broken
    client.listRv = '30';
    await until(() => client.lists === 2 && client.watchQueries.length === 2);
    await inf.stop();
    assert.deepEqual(rec.events, ['add:a@5', 'add:b@6', 'delete:b@6', 'update:a@7']);
    assert.equal(client.watchQueries[1]?.['resourceVersion'], '30');
  });

  it('restarts a failed watch with backoff, resuming from the last resourceVersion without a relist', async () => {
    const client = new FakeClient(
      [obj('a', '5')],
      [
        (on) => {
          on({ type: 'MODIFIED', object: obj('a', '15') });
          return Promise.reject(new Error('connection reset'));
        },
        () => Promise.reject(new KubeApiError(500, 'InternalError', 'boom')),
      ],
    );
    const rec = recorder();
    const inf = new Informer(client, {
      path: '/x',
      resyncMs: 0,
      onEvent: rec.onEvent,
      logger,
      backoffBaseMs: 1,
      backoffMaxMs: 5,
    });
    inf.start();
    await until(() => client.watchQueries.length >= 3);
    await inf.stop();
    assert.equal(client.lists, 1);
    assert.deepEqual(
      client.watchQueries.map((q) => q['resourceVersion']),
      ['10', '15', '15'],
    );
  });

  it('re-delivers every cached object each resync period', async () => {
    const client = new FakeClient([obj('a', '5'), obj('b', '6')], []);
    const rec = recorder();
    const inf = new Informer(client, { path: '/x', resyncMs: 20, onEvent: rec.onEvent, logger });
    inf.start();
    await until(() => rec.events.filter((e) => e.startsWith('resync')).length >= 4);
    await inf.stop();
    assert.ok(rec.events.includes('resync:a@5'));
    assert.ok(rec.events.includes('resync:b@6'));
  });
});
