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
  settled,
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

  it('creates a Deployment, a Service and a not-ready status, and stays not Ready while no server reports the model', async () => {
    await create(client, paths.isvcs(ns), isvcBody(ns, 'iris'));
    const deployment = await waitFor('Deployment', () =>
      get(paths.deployment(ns, 'iris-predictor')),
    );
    // The Service is applied right after the Deployment, one round trip later.
    const service = await waitFor('Service', () => get(paths.service(ns, 'iris-predictor')));
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

    // An available Deployment is not a served model: with no pod whose agent reports the model
    // READY, the InferenceService must not turn Ready (the lie the model-lifecycle issue found).
    await markDeploymentAvailable(client, ns, 'iris-predictor');
    const available = await waitFor('PredictorReady=True', async () => {
      const isvc = await get(paths.isvc(ns, 'iris'));
      return condition(isvc, 'PredictorReady')?.status === 'True' ? isvc : undefined;
    });
    assert.equal(condition(available, 'PredictorReady')?.reason, 'DeploymentAvailable');
    assert.equal(condition(available, 'ModelsReady')?.status, 'False');
    assert.equal(condition(available, 'ModelsReady')?.reason, 'ModelsNotLoaded');
    assert.equal(condition(available, 'Ready')?.status, 'False');
    const modelStatus = (
      available['status'] as {
        modelStatus: { loaded: string; states: { activeModelState: string } };
      }
    ).modelStatus;
    assert.equal(modelStatus.loaded, '0/1');
    assert.equal(modelStatus.states.activeModelState, 'Pending');
  });

  it('updates a storageUri in place (no pod rollout) and rolls a model rename into the Deployment', async () => {
    const before = await get(paths.deployment(ns, 'iris-predictor'));
    await client.request('PATCH', paths.isvc(ns, 'iris'), {
      contentType: PATCH.merge,
      body: { spec: { predictor: { model: { storageUri: 's3://models/iris-v2/' } } } },
    });
    await waitFor('observedGeneration 2', async () => {
      const o = await get(paths.isvc(ns, 'iris'));
      return condition(o, 'Ready')?.observedGeneration === 2 ? o : undefined;
    });
    // The agents load the new version next to the old one; the pods are not replaced.
    const after = await get(paths.deployment(ns, 'iris-predictor'));
    assert.equal(after.metadata?.generation, before.metadata?.generation);
    assert.equal(JSON.stringify(after['spec']).includes('s3://'), false);

    await client.request('PATCH', paths.isvc(ns, 'iris'), {
      contentType: PATCH.merge,
      body: { spec: { predictor: { model: { name: 'iris-renamed' } } } },
    });
    const isvc = await waitFor('observedGeneration 3', async () => {
      const o = await get(paths.isvc(ns, 'iris'));
      return condition(o, 'Ready')?.observedGeneration === 3 ? o : undefined;
    });
    const renamed = await get(paths.deployment(ns, 'iris-predictor'));
    assert.ok(JSON.stringify(renamed['spec']).includes('iris-renamed'));
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
    // Several resyncs later (counted reconciles, not a sleep) the operator has not fought the HPA.
    await settled(op, 3);
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
