import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeList, KubeObject } from '../../../operator/src/kube/client.js';
import {
  condition,
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  markDeploymentAvailable,
  paths,
  runtimeBody,
  startOperator,
  testClient,
  testConfig,
  isvcReconciles,
  settled,
  waitFor,
  type RunningOperator,
} from './cluster.js';

const COUNT = 50;
const RESYNC_SECONDS = 2;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

describe(`steady state with ${COUNT} InferenceServices and a broken one`, () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;
  const names = Array.from({ length: COUNT }, (_, i) => `model-${String(i).padStart(3, '0')}`);

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'steady');
    await create(client, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
    op = await startOperator(
      testConfig(ns, { TESSERA_OPERATOR_RESYNC_SECONDS: String(RESYNC_SECONDS) }),
    );
  });

  after(async () => {
    await op.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  async function listIsvcs(): Promise<KubeObject[]> {
    return (await client.request<KubeList>('GET', paths.isvcs(ns))).items;
  }

  it(`converges ${COUNT} InferenceServices created at once`, async () => {
    const started = Date.now();
    await pool(names, 16, (name) => create(client, paths.isvcs(ns), isvcBody(ns, name)));
    await waitFor(
      `${COUNT} statuses`,
      async () =>
        (await listIsvcs()).filter((o) => condition(o, 'Ready')?.observedGeneration === 1)
          .length === COUNT,
      90_000,
      250,
    );
    await pool(names, 16, (name) => markDeploymentAvailable(client, ns, `${name}-predictor`));
    // No kubelet runs here, so no agent ever reports the model: the predictors turn ready and
    // the InferenceServices truthfully stay not Ready (the e2e tier runs real pods).
    await waitFor(
      `${COUNT} PredictorReady`,
      async () =>
        (await listIsvcs()).filter(
          (o) =>
            condition(o, 'PredictorReady')?.status === 'True' &&
            condition(o, 'ModelsReady')?.reason === 'ModelsNotLoaded',
        ).length === COUNT,
      90_000,
      250,
    );
    const all = await listIsvcs();
    assert.equal(all.filter((o) => condition(o, 'Ready')?.status === 'True').length, 0);
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`# converged ${COUNT} InferenceServices in ${seconds.toFixed(1)}s\n`);
  });

  it('makes zero writes once Ready, over several resync periods, while a broken InferenceService keeps failing', async () => {
    // Broken: requests above limits make the apiserver reject its Deployment (422) on every try.
    const broken = isvcBody(ns, 'broken');
    (broken['spec'] as { predictor: { model: Record<string, unknown> } }).predictor.model[
      'resources'
    ] = {
      requests: { cpu: '2' },
      limits: { cpu: '1' },
    };
    await create(client, paths.isvcs(ns), broken);
    await waitFor(
      'broken one failing',
      () => op.writes.some((w) => w.includes('/deployments/broken-predictor')),
      30_000,
    );
    // Let events from marking the Deployments available settle: one full pass over every object.
    await settled(op, COUNT + 1);

    const snapshot = async (): Promise<Map<string, string>> => {
      const rvs = new Map<string, string>();
      for (const path of [paths.isvcs(ns), paths.deployments(ns), paths.services(ns)]) {
        for (const o of (await client.request<KubeList>('GET', path)).items) {
          if (o.metadata?.name?.startsWith('broken') === true) continue;
          rvs.set(`${o.kind ?? path}/${o.metadata?.name ?? ''}`, o.metadata?.resourceVersion ?? '');
        }
      }
      return rvs;
    };
    const before = await snapshot();
    const writesBefore = op.writes.length;
    const reconcilesBefore = await isvcReconciles(op);
    // Three resync passes over every object, counted rather than slept.
    await settled(op, COUNT * 3, RESYNC_SECONDS * 10 * 1000);
    const after = await snapshot();
    const healthyWrites = op.writes.slice(writesBefore).filter((w) => !w.includes('broken'));
    const reconcilesDuring = (await isvcReconciles(op)) - reconcilesBefore;

    assert.equal(before.size, COUNT * 3);
    assert.deepEqual(after, before, 'resourceVersions of healthy objects changed');
    assert.deepEqual(healthyWrites, [], 'the operator wrote to healthy objects in steady state');
    // Resyncs did run (the loop is alive), they just found nothing to do.
    assert.ok(reconcilesDuring >= COUNT * 2, `only ${reconcilesDuring} reconciles during the wait`);
    // The broken one says why in its status, without a write per retry.
    const brokenNow = (await listIsvcs()).find((o) => o.metadata?.name === 'broken');
    assert.ok(brokenNow);
    assert.equal(condition(brokenNow, 'Ready')?.reason, 'DeploymentApplyFailed');
    assert.match(
      condition(brokenNow, 'Ready')?.message ?? '',
      /must be less than or equal to cpu limit/,
    );
    const brokenStatusWrites = op.writes
      .slice(writesBefore)
      .filter((w) => w.includes('inferenceservices/broken/status'));
    assert.deepEqual(brokenStatusWrites, []);
    process.stdout.write(
      `# steady state: ${reconcilesDuring} reconciles, 0 writes to healthy objects\n`,
    );
  });
});
