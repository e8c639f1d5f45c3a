import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import {
  condition,
  create,
  createNamespace,
  deleteNamespace,
  installCrds,
  isvcBody,
  markDeploymentAvailable,
  paths,
  runtimeBody,
  startOperator,
  testClient,
  testConfig,
  waitFor,
  type RunningOperator,
} from './cluster.js';

describe('InferenceService create, update, scale and delete against kube-apiserver', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;

  before(async () => {
    client = testClient();
    await installCrds(client);
    ns = await createNamespace(client, 'lifecycle');
    await create(client, paths.runtimes(ns), runtimeBody('onnx-rt', 'onnx', { namespace: ns }));
    op = await startOperator(testConfig(ns));
  });

  after(async () => {
    await op.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  const get = (path: string) => client.request<KubeObject>('GET', path);

  it('creates a Deployment, a Service and a not-ready status, then Ready once the Deployment is available', async () => {
    await create(client, paths.isvcs(ns), isvcBody(ns, 'iris'));
    const deployment = await waitFor('Deployment', () =>
      get(paths.deployment(ns, 'iris-predictor')),
    );
    const service = await get(paths.service(ns, 'iris-predictor'));
    const owner = deployment.metadata?.ownerReferences?.[0];
    assert.ok(owner);
    assert.equal(owner.kind, 'InferenceService');
    assert.equal(owner.controller, true);
    assert.equal(service.metadata?.ownerReferences?.[0]?.uid, owner.uid);
    assert.equal((deployment['spec'] as { replicas: number }).replicas, 1);

    // No kubelet or Deployment controller runs: the Deployment is never available on its own.
    const notReady = await waitFor('not-ready status', async () => {
      const isvc = await get(paths.isvc(ns, 'iris'));
      return condition(isvc, 'Ready') === undefined ? undefined : isvc;
    });
    const predictor = condition(notReady, 'PredictorReady');
    assert.equal(predictor?.status, 'False');
    assert.equal(predictor.reason, 'DeploymentProgressing');
    assert.equal(condition(notReady, 'Ready')?.status, 'False');
    assert.equal(condition(notReady, 'Ready')?.observedGeneration, 1);
    const status = notReady['status'] as {
      url: string;
      modelStatus: { loaded: string };
      runtimeName: string;
    };
    assert.equal(status.url, `http://iris-predictor.${ns}.svc.cluster.local`);
    assert.equal(status.runtimeName, 'onnx-rt');
    assert.equal(status.modelStatus.loaded, '0/1');

    await markDeploymentAvailable(client, ns, 'iris-predictor');
    const ready = await waitFor('Ready=True', async () => {
      const isvc = await get(paths.isvc(ns, 'iris'));
      return condition(isvc, 'Ready')?.status === 'True' ? isvc : undefined;
    });
    assert.equal(condition(ready, 'PredictorReady')?.reason, 'DeploymentAvailable');
    assert.equal(condition(ready, 'ModelsReady')?.status, 'True');
    assert.equal(
      (ready['status'] as { modelStatus: { loaded: string } }).modelStatus.loaded,
      '1/1',
    );
  });

  it('rolls a spec change into the Deployment and bumps observedGeneration', async () => {
    await client.request('PATCH', paths.isvc(ns, 'iris'), {
      contentType: PATCH.merge,
      body: { spec: { predictor: { model: { storageUri: 's3://models/iris-v2/' } } } },
    });
    await waitFor('new STORAGE_URI in the Deployment', async () => {
      const d = await get(paths.deployment(ns, 'iris-predictor'));
      const env = (
        d['spec'] as {
          template: { spec: { containers: { env: { name: string; value: string }[] }[] } };
        }
      ).template.spec.containers[0]?.env;
      return env?.some((e) => e.name === 'STORAGE_URI' && e.value === 's3://models/iris-v2/');
    });
    const isvc = await waitFor('observedGeneration 2', async () => {
      const o = await get(paths.isvc(ns, 'iris'));
      return condition(o, 'Ready')?.observedGeneration === 2 ? o : undefined;
    });
    // The Deployment's generation moved on and nobody has observed it yet: not ready again.
    assert.equal(condition(isvc, 'PredictorReady')?.reason, 'DeploymentProgressing');
  });

  it('scales through the scale subresource and through minReplicas == maxReplicas', async () => {
    await client.request('PATCH', `${paths.isvc(ns, 'iris')}/scale`, {
      contentType: PATCH.merge,
      body: { spec: { replicas: 3 } },
    });
    await waitFor('3 replicas', async () => {
      const d = await get(paths.deployment(ns, 'iris-predictor'));
      return (d['spec'] as { replicas: number }).replicas === 3;
    });
    const scale = await get(`${paths.isvc(ns, 'iris')}/scale`);
    assert.equal((scale['spec'] as { replicas: number }).replicas, 3);
    assert.match(
      (scale['status'] as { selector: string }).selector,
      /serving\.tessera\.io\/inferenceservice=iris/,
    );
  });

  it('adds an HPA when maxReplicas > minReplicas, leaves replicas to it, and hands them back when removed', async () => {
    await client.request('PATCH', paths.isvc(ns, 'iris'), {
      contentType: PATCH.merge,
      body: {
        spec: {
          predictor: { minReplicas: 2, maxReplicas: 5, scaleMetric: 'inFlight', scaleTarget: 4 },
        },
      },
    });
    const hpa = await waitFor('HPA', () => get(paths.hpa(ns, 'iris-predictor')));
    const spec = hpa['spec'] as {
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; pods: { metric: { name: string } } }[];
    };
    assert.equal(spec.minReplicas, 2);
    assert.equal(spec.maxReplicas, 5);
    assert.equal(spec.metrics[0]?.pods.metric.name, 'tessera_model_infer_in_flight');
    // The handover kept the replica count (3) instead of resetting it to the default of 1.
    const d1 = await get(paths.deployment(ns, 'iris-predictor'));
    assert.equal((d1['spec'] as { replicas: number }).replicas, 3);
    // The HPA controller (simulated here) scales to 4 through the scale subresource.
    await client.request('PATCH', `${paths.deployment(ns, 'iris-predictor')}/scale`, {
      contentType: PATCH.merge,
      query: { fieldManager: 'kube-controller-manager' },
      body: { spec: { replicas: 4 } },
    });
    // Several resyncs later the operator has not fought the HPA.
    await new Promise((r) => setTimeout(r, 5000));
    const d2 = await get(paths.deployment(ns, 'iris-predictor'));
    assert.equal((d2['spec'] as { replicas: number }).replicas, 4);

    // Autoscaling off: the HPA goes away and replicas follow the spec again.
    await client.request('PATCH', paths.isvc(ns, 'iris'), {
      contentType: PATCH.merge,
      body: {
        spec: {
          predictor: {
            minReplicas: 2,
            maxReplicas: 2,
            replicas: null,
            scaleMetric: null,
            scaleTarget: null,
          },
        },
      },
    });
    await waitFor('HPA deleted', async () => {
      try {
        await get(paths.hpa(ns, 'iris-predictor'));
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    });
    await waitFor('replicas back to 2', async () => {
      const d = await get(paths.deployment(ns, 'iris-predictor'));
      return (d['spec'] as { replicas: number }).replicas === 2;
    });
  });

  it('deletes the children through the garbage collector when the InferenceService goes', async () => {
    await client.request('DELETE', paths.isvc(ns, 'iris'));
    for (const path of [
      paths.deployment(ns, 'iris-predictor'),
      paths.service(ns, 'iris-predictor'),
    ]) {
      await waitFor(`${path} deleted`, async () => {
        try {
          await get(path);
          return false;
        } catch (err) {
          return isNotFound(err);
        }
      });
    }
  });
});
