import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import {
  condition,
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  paths,
  runtimeBody,
  startOperator,
  testClient,
  testConfig,
  waitFor,
  type RunningOperator,
} from './cluster.js';

describe('runtime selection against kube-apiserver', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;
  const clusterRuntime = `xgb-cluster-${String(process.pid)}`;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'runtimes');
    op = await startOperator(testConfig(ns));
  });

  after(async () => {
    await op.stop();
    await client
      .request('DELETE', `${paths.clusterRuntimes()}/${clusterRuntime}`)
      .catch(() => undefined);
    await deleteNamespace(client, ns);
    client.close();
  });

  const get = (path: string): Promise<KubeObject> => client.request<KubeObject>('GET', path);

  it('reports NoSupportingRuntime and creates nothing when no runtime fits', async () => {
    await create(client, paths.isvcs(ns), isvcBody(ns, 'xgb', {}, 'xgboost-test'));
    const isvc = await waitFor('NoSupportingRuntime', async () => {
      const o = await get(paths.isvc(ns, 'xgb'));
      return condition(o, 'Ready')?.reason === 'NoSupportingRuntime' ? o : undefined;
    });
    assert.match(condition(isvc, 'Ready')?.message ?? '', /supports model format xgboost-test/);
    assert.equal(condition(isvc, 'PredictorReady')?.reason, 'NoSupportingRuntime');
    await assert.rejects(get(paths.deployment(ns, 'xgb-predictor')), (err) => isNotFound(err));
  });

  it('picks up a ClusterServingRuntime created later, then prefers a namespace ServingRuntime', async () => {
    await create(
      client,
      paths.clusterRuntimes(),
      runtimeBody(clusterRuntime, 'xgboost-test', { image: 'example/cluster:1' }),
    );
    await waitFor('Deployment from the cluster runtime', async () => {
      const d = await get(paths.deployment(ns, 'xgb-predictor'));
      return JSON.stringify(d['spec']).includes('example/cluster:1');
    });
    const viaCluster = await waitFor('runtime in status', async () => {
      const o = await get(paths.isvc(ns, 'xgb'));
      return (o['status'] as { runtimeName?: string }).runtimeName === clusterRuntime
        ? o
        : undefined;
    });
    assert.equal(
      (viaCluster['status'] as { runtimeKind: string }).runtimeKind,
      'ClusterServingRuntime',
    );

    await create(
      client,
      paths.runtimes(ns),
      runtimeBody('xgb-local', 'xgboost-test', { namespace: ns, image: 'example/local:1' }),
    );
    await waitFor('Deployment from the namespace runtime', async () => {
      const d = await get(paths.deployment(ns, 'xgb-predictor'));
      return JSON.stringify(d['spec']).includes('example/local:1');
    });
    const viaNamespace = await waitFor('namespace runtime in status', async () => {
      const o = await get(paths.isvc(ns, 'xgb'));
      return (o['status'] as { runtimeName?: string }).runtimeName === 'xgb-local' ? o : undefined;
    });
    assert.equal((viaNamespace['status'] as { runtimeKind: string }).runtimeKind, 'ServingRuntime');
  });

  it('explains a pinned runtime that does not exist', async () => {
    const body = isvcBody(ns, 'pinned');
    (body['spec'] as { predictor: { model: Record<string, unknown> } }).predictor.model['runtime'] =
      'nope';
    await create(client, paths.isvcs(ns), body);
    const isvc = await waitFor('RuntimeNotFound', async () => {
      const o = await get(paths.isvc(ns, 'pinned'));
      return condition(o, 'Ready')?.reason === 'RuntimeNotFound' ? o : undefined;
    });
    assert.match(condition(isvc, 'Ready')?.message ?? '', /runtime nope was found neither/);
  });
});
