import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
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

describe('409 conflicts with a concurrent writer', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;
  let interfered = 0;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'conflicts');
    await create(client, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
    // After the operator applied the Service (it holds a cached copy of the InferenceService by
    // now), another writer changes the InferenceService and the Deployment. The operator's status
    // write carries the stale resourceVersion and gets a real 409 from the apiserver.
    op = await startOperator(testConfig(ns), async (step, key) => {
      if (step !== 'Service' || key !== `${ns}/contended` || interfered > 0) return;
      interfered++;
      await client.request('PATCH', paths.isvc(ns, 'contended'), {
        contentType: PATCH.merge,
        body: {
          metadata: { labels: { team: 'search' }, annotations: { 'example.com/owner': 'alice' } },
        },
      });
      await client.request('PATCH', `${paths.isvc(ns, 'contended')}/status`, {
        contentType: PATCH.apply,
        query: { fieldManager: 'other-controller', force: true },
        body: {
          apiVersion: 'serving.tessera.io/v1alpha1',
          kind: 'InferenceService',
          metadata: { name: 'contended', namespace: ns },
          status: {
            conditions: [
              {
                type: 'ExternalCheck',
                status: 'True',
                reason: 'Passed',
                message: 'set by another controller',
                lastTransitionTime: '2026-01-01T00:00:00Z',
              },
            ],
          },
        },
      });
      await client.request('PATCH', paths.deployment(ns, 'contended-predictor'), {
        contentType: PATCH.merge,
        body: { metadata: { annotations: { 'example.com/audited': 'true' } } },
      });
    });
  });

  after(async () => {
    await op.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('retries after a 409 on the status write and keeps every other writer’s fields', async () => {
    await create(client, paths.isvcs(ns), isvcBody(ns, 'contended'));
    const isvc = await waitFor('status written', async () => {
      const o = await client.request<KubeObject>('GET', paths.isvc(ns, 'contended'));
      return condition(o, 'Ready') === undefined ? undefined : o;
    });
    assert.equal(interfered, 1);
    const { values } = await op.metrics.kubeRequests.get();
    const conflicts = values
      .filter((v) => v.labels.code === '409')
      .reduce((n, v) => n + v.value, 0);
    assert.ok(conflicts >= 1, 'the operator should have met at least one 409');

    // Nothing the other writer set was lost.
    assert.equal(isvc.metadata?.labels?.['team'], 'search');
    assert.equal(isvc.metadata?.annotations?.['example.com/owner'], 'alice');
    assert.equal(condition(isvc, 'ExternalCheck')?.message, 'set by another controller');
    // The operator's own status is complete and about the current generation.
    assert.equal(condition(isvc, 'Ready')?.status, 'False');
    assert.equal(condition(isvc, 'Ready')?.observedGeneration, isvc.metadata?.generation);
    assert.equal(condition(isvc, 'PredictorReady')?.reason, 'DeploymentProgressing');
    // The conflict never surfaced as a user-facing error condition.
    for (const c of ['Ready', 'PredictorReady', 'ModelsReady']) {
      assert.doesNotMatch(condition(isvc, c)?.message ?? '', /conflict|409/i);
    }
    const d = await client.request<KubeObject>('GET', paths.deployment(ns, 'contended-predictor'));
    assert.equal(d.metadata?.annotations?.['example.com/audited'], 'true');
  });

  it('keeps a field another manager added to a child when it re-applies the child', async () => {
    // Another manager adds a label to the Service; a spec change makes the operator re-apply it.
    await client.request('PATCH', paths.service(ns, 'contended-predictor'), {
      contentType: PATCH.merge,
      body: { metadata: { labels: { 'example.com/mesh': 'on' } } },
    });
    await client.request('PATCH', paths.isvc(ns, 'contended'), {
      contentType: PATCH.merge,
      body: { spec: { predictor: { model: { name: 'renamed' } } } },
    });
    await waitFor('Deployment re-applied', async () => {
      const d = await client.request<KubeObject>(
        'GET',
        paths.deployment(ns, 'contended-predictor'),
      );
      return JSON.stringify(d['spec']).includes('renamed');
    });
    const svc = await client.request<KubeObject>('GET', paths.service(ns, 'contended-predictor'));
    assert.equal(svc.metadata?.labels?.['example.com/mesh'], 'on');
    assert.equal(svc.metadata?.labels?.['app.kubernetes.io/managed-by'], 'tessera-operator');
  });
});
