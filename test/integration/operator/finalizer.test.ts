import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import {
  CLEANUP_FINALIZER,
  type Cleanup,
} from '../../../operator/src/reconcilers/inference-service/finalizer.js';
import {
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  paths,
  runtimeBody,
  startOperator,
  testClient,
  testConfig,
  settled,
  waitFor,
  type RunningOperator,
} from './cluster.js';

describe('finalizer for external cleanup', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'finalizer');
    await create(client, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
  });

  after(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  const get = (name: string): Promise<KubeObject> =>
    client.request<KubeObject>('GET', paths.isvc(ns, name));
  const gone = async (name: string): Promise<boolean> => {
    try {
      await get(name);
      return false;
    } catch (err) {
      return isNotFound(err);
    }
  };

  /** A cleanup that fails `failures` times per object, then succeeds; it records every call. */
  function recorder(
    failures: number,
    extra?: (isvc: KubeObject) => Promise<void>,
  ): Cleanup & { calls: string[] } {
    const calls: string[] = [];
    return {
      name: 'test-unload',
      calls,
      run: async (isvc) => {
        const name = isvc.metadata?.name ?? '';
        calls.push(name);
        if (calls.filter((c) => c === name).length <= failures)
          throw new Error('model server unreachable');
        await extra?.(isvc);
      },
    };
  }

  it('adds no finalizer when nothing needs cleaning up', async () => {
    const op = await startOperator(testConfig(ns));
    try {
      await create(client, paths.isvcs(ns), isvcBody(ns, 'plain'));
      await waitFor('Deployment', () =>
        client.request('GET', paths.deployment(ns, 'plain-predictor')),
      );
      assert.equal((await get('plain')).metadata?.finalizers, undefined);
      await client.request('DELETE', paths.isvc(ns, 'plain'));
      await waitFor('plain deleted', () => gone('plain'));
    } finally {
      await op.stop();
    }
  });

  it('holds deletion until the cleanup succeeds, retrying a failing cleanup', async () => {
    const cleanup = recorder(1);
    const op = await startOperator(testConfig(ns), undefined, [cleanup]);
    try {
      await create(client, paths.isvcs(ns), isvcBody(ns, 'held'));
      await waitFor('finalizer', async () =>
        (await get('held')).metadata?.finalizers?.includes(CLEANUP_FINALIZER),
      );
      await waitFor('status', async () => (await get('held'))['status'] !== undefined);
      await client.request('DELETE', paths.isvc(ns, 'held'));
      await waitFor('held deleted', () => gone('held'));
      assert.deepEqual(cleanup.calls, ['held', 'held'], 'one failure, then one success');
    } finally {
      await op.stop();
    }
  });

  it('cleans up an object deleted while the operator was down', async () => {
    const first = await startOperator(testConfig(ns), undefined, [recorder(0)]);
    await create(client, paths.isvcs(ns), isvcBody(ns, 'offline'));
    await waitFor('finalizer', async () =>
      (await get('offline')).metadata?.finalizers?.includes(CLEANUP_FINALIZER),
    );
    await waitFor('status', async () => (await get('offline'))['status'] !== undefined);
    await first.stop();
    // No operator runs now: the apiserver sets deletionTimestamp and the finalizer holds it.
    await client.request('DELETE', paths.isvc(ns, 'offline'));
    assert.ok((await get('offline')).metadata?.deletionTimestamp, 'held by the finalizer');
    const cleanup = recorder(0);
    const second: RunningOperator = await startOperator(testConfig(ns), undefined, [cleanup]);
    try {
      await waitFor('offline deleted', () => gone('offline'));
      assert.deepEqual(cleanup.calls, ['offline']);
    } finally {
      await second.stop();
    }
  });

  it('treats a 404 when removing the finalizer as done', async () => {
    // The cleanup itself lets the object go (someone removed the finalizer meanwhile), so the
    // operator's own removal meets a 404: that must end the reconcile, not start an error loop.
    const cleanup = recorder(0, async (isvc) => {
      await client.request('PATCH', paths.isvc(ns, isvc.metadata?.name ?? ''), {
        contentType: PATCH.merge,
        body: { metadata: { finalizers: null } },
      });
      await waitFor('gone', () => gone(isvc.metadata?.name ?? ''));
    });
    const op = await startOperator(testConfig(ns), undefined, [cleanup]);
    try {
      await create(client, paths.isvcs(ns), isvcBody(ns, 'raced'));
      await waitFor('finalizer', async () =>
        (await get('raced')).metadata?.finalizers?.includes(CLEANUP_FINALIZER),
      );
      // Let the first reconcile finish (status written) so only the deletion path runs below.
      await waitFor('status', async () => (await get('raced'))['status'] !== undefined);
      await settled(op);
      const errorsBefore = (await op.metrics.reconcileErrors.get()).values.reduce(
        (n, v) => n + v.value,
        0,
      );
      await client.request('DELETE', paths.isvc(ns, 'raced'));
      await waitFor('raced deleted', () => gone('raced'));
      // The deletion event reached the operator and its reconcile finished.
      await waitFor(
        'the cache saw the deletion',
        () => op.operator.controller.queue.idle() && !op.operator.hasCached(`${ns}/raced`),
      );
      await settled(op, 0);
      const errorsAfter = (await op.metrics.reconcileErrors.get()).values.reduce(
        (n, v) => n + v.value,
        0,
      );
      assert.equal(errorsAfter, errorsBefore);
      const { values } = await op.metrics.kubeRequests.get();
      const notFound = values.filter((v) => v.labels.method === 'PATCH' && v.labels.code === '404');
      assert.equal(
        notFound.reduce((n, v) => n + v.value, 0),
        1,
        'the finalizer removal met a 404',
      );
    } finally {
      await op.stop();
    }
  });
});
