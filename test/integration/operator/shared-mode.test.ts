// Shared mode against the real kube-apiserver: models placed on pool shards by declared memory,
// an overflow into a second shard, a model that cannot fit explained, and a deletion that
// frees room. No kubelet runs here, so no agent reports a model: the e2e tier covers loading.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
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

const PLACED = 'serving.tessera.io/placed-models';

describe('Shared mode: placement on pool shards', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'shared');
    const runtime = runtimeBody('multi', 'onnx', { namespace: ns });
    Object.assign(runtime['spec'] as object, { multiModel: true, capacity: { memory: '1Gi' } });
    await create(client, paths.runtimes(ns), runtime);
    op = await startOperator(testConfig(ns));
  });

  after(async () => {
    await op.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  const get = (path: string) => client.request<KubeObject>('GET', path);
  const shared = (name: string, memory: string) =>
    isvcBody(ns, name, {
      model: {
        modelFormat: { name: 'onnx' },
        storageUri: `s3://models/${name}/`,
        resources: { requests: { memory } },
      },
    });
  const withMode = (body: KubeObject): KubeObject => {
    (body['spec'] as Record<string, unknown>)['deploymentMode'] = 'Shared';
    return body;
  };
  const placed = async (shard: string): Promise<string[] | undefined> => {
    const d = await get(paths.deployment(ns, shard)).catch(() => undefined);
    const raw = d?.metadata?.annotations?.[PLACED];
    return raw === undefined ? undefined : (JSON.parse(raw) as string[]);
  };

  it('packs models onto one shard and overflows into a second when memory runs out', async () => {
    for (const name of ['m-a', 'm-b', 'm-c']) {
      await create(client, paths.isvcs(ns), withMode(shared(name, '400Mi')));
      // One at a time: placement is first come, first served by creation time.
      await waitFor(`${name} placed`, async () =>
        [
          ...((await placed('tessera-pool-multi-0')) ?? []),
          ...((await placed('tessera-pool-multi-1')) ?? []),
        ].includes(name),
      );
    }
    assert.deepEqual(await placed('tessera-pool-multi-0'), ['m-a', 'm-b']);
    assert.deepEqual(await placed('tessera-pool-multi-1'), ['m-c']);

    // Each InferenceService's Service selects the shard its model is on.
    const svc = await waitFor('m-c Service', () =>
      get(paths.service(ns, 'm-c-predictor')).catch(() => undefined),
    );
    const selector = (svc['spec'] as { selector: Record<string, string> }).selector;
    assert.equal(selector['serving.tessera.io/shard'], '1');
    assert.equal(selector['serving.tessera.io/pool'], 'multi');

    // The shard's pods are not served by any agent here: truthfully not Ready, and why.
    const isvc = await waitFor('m-a status', async () => {
      const o = await get(paths.isvc(ns, 'm-a'));
      return condition(o, 'ModelsReady') === undefined ? undefined : o;
    });
    assert.equal(condition(isvc, 'Ready')?.status, 'False');
    assert.notEqual(condition(isvc, 'Ready')?.reason, 'SharedModeUnavailable');
  });

  it('explains a model that cannot fit any server of the pool', async () => {
    await create(client, paths.isvcs(ns), withMode(shared('m-huge', '2Gi')));
    const isvc = await waitFor('m-huge NotPlaced', async () => {
      const o = await get(paths.isvc(ns, 'm-huge'));
      return condition(o, 'Ready')?.reason === 'NotPlaced' ? o : undefined;
    });
    assert.match(
      condition(isvc, 'ModelsReady')?.message ?? '',
      /declares 2 GiB of memory, more than the runtime's capacity of 1 GiB per server/,
    );
  });

  it('frees the room of a deleted model and places the next one there', async () => {
    await client.request('DELETE', paths.isvc(ns, 'm-a'));
    await waitFor(
      'm-a removed from shard 0',
      async () => !((await placed('tessera-pool-multi-0')) ?? []).includes('m-a'),
    );
    await create(client, paths.isvcs(ns), withMode(shared('m-d', '400Mi')));
    await waitFor('m-d on shard 0', async () =>
      ((await placed('tessera-pool-multi-0')) ?? []).includes('m-d'),
    );
    assert.deepEqual(await placed('tessera-pool-multi-1'), ['m-c']);
  });
});
