import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../../operator/src/kube/client.js';
import type { ReconcileStep } from '../../../operator/src/reconcilers/inference-service/reconciler.js';
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
} from './cluster.js';

/** Thrown by the fault hook: the reconcile stops dead, as if the process had been killed. */
class Killed extends Error {}

const STEPS: ReconcileStep[] = ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'status'];

describe('operator killed after each step of a reconcile, then restarted', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'crash');
    await create(client, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
  });

  after(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  for (const step of STEPS) {
    it(`converges with exactly one of each child after a kill after the ${step} step`, async () => {
      const name = `crash-${step.toLowerCase()}`;
      const key = `${ns}/${name}`;
      let killed!: () => void;
      const killedAt = new Promise<void>((resolve) => (killed = resolve));
      let die!: (err: Error) => void;
      const dead = new Promise<void>((_, reject) => (die = reject));
      // The first operator freezes right after `step`, like a killed process: that reconcile
      // never takes another step, and stop() then discards everything queued.
      const first = await startOperator(testConfig(ns), (s, k) => {
        if (k === key && s === step) {
          killed();
          return dead;
        }
        return undefined;
      });
      await create(client, paths.isvcs(ns), isvcBody(ns, name, { minReplicas: 1, maxReplicas: 3 }));
      await Promise.race([
        killedAt,
        new Promise((_, reject) => {
          setTimeout(() => {
            reject(new Error(`never reached ${step}`));
          }, 30_000).unref();
        }),
      ]);
      const stopping = first.stop();
      die(new Killed(`killed after ${step}`));
      await stopping;

      // The kill left a partial state: only the children up to `step` exist.
      const selector = `serving.tessera.io/inferenceservice=${name}`;
      const count = async (collection: string): Promise<number> =>
        (await client.request<KubeList>('GET', collection, { query: { labelSelector: selector } }))
          .items.length;
      const reached = STEPS.indexOf(step);
      assert.equal(await count(paths.services(ns)), reached >= 1 ? 1 : 0);
      assert.equal(await count(paths.hpas(ns)), reached >= 2 ? 1 : 0);
      const before = await client.request<KubeObject>('GET', paths.isvc(ns, name));
      assert.equal(condition(before, 'Ready') !== undefined, reached >= 3);

      const second = await startOperator(testConfig(ns));
      try {
        const isvc = await waitFor('status after restart', async () => {
          const o = await client.request<KubeObject>('GET', paths.isvc(ns, name));
          return condition(o, 'Ready')?.observedGeneration === 1 ? o : undefined;
        });
        assert.equal(condition(isvc, 'PredictorReady')?.reason, 'DeploymentProgressing');
        for (const collection of [paths.deployments(ns), paths.services(ns), paths.hpas(ns)]) {
          const list = await client.request<KubeList>('GET', collection, {
            query: { labelSelector: selector },
          });
          assert.equal(
            list.items.length,
            1,
            `${collection}: ${list.items.map((i) => i.metadata?.name).join(',')}`,
          );
          const owner = list.items[0]?.metadata?.ownerReferences ?? [];
          assert.equal(owner.length, 1);
          assert.equal(owner[0]?.uid, isvc.metadata?.uid);
          assert.equal(owner[0]?.controller, true);
        }
      } finally {
        await second.stop();
      }
    });
  }
});
