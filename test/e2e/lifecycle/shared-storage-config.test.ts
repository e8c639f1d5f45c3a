// Shared mode with private storage end to end: moto with authentication enforced holds the
// models, the namespace's storage-config Secret (KServe ModelMesh's shape) holds the entry, and
// InferenceServices select it with `storage.key`. Two models load on one pool shard through it; a
// model naming a key the Secret lacks reports FailedToLoad with the reason and recovers, on the
// same pod, once the key is added (the process kubelet re-projects Secret volumes). A Shared
// model naming a Secret of its own is refused with a condition and an Event, never placed; a
// Dedicated model reads the same Secret through the same key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVER_PORTS, STORAGE_CONFIG_SECRET } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
import {
  createBucketWith,
  createS3Key,
  startMoto,
  type MotoServer,
} from '../../support/moto-server.js';
import { tritonInfer } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { waitFor } from '../../integration/operator/cluster.js';
import {
  createNamespace,
  deleteNamespace,
  serviceEndpoints,
  testClient,
  waitForObject,
} from '../support/kube.js';
import {
  FAST_MODEL_RETRIES,
  startOperator,
  type OperatorProcess,
} from '../support/operator-process.js';
import type { Pod } from '../support/pod-types.js';
import { ProcessKubelet } from '../support/process-kubelet.js';

const IRIS = join(REPO_ROOT, 'examples/models/iris/model.onnx');
const BUCKET = 'private-models';
const SHARD = 'tessera-pool-pool-0';

interface Status {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  modelStatus?: {
    states?: { activeModelState?: string };
    lastFailureInfo?: { reason?: string; message?: string };
  };
}

const statusOf = (o: KubeObject | undefined): Status => o?.['status'] ?? {};
const ready = (o: KubeObject | undefined): boolean =>
  statusOf(o).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('Shared mode with the storage-config Secret', { timeout: 900_000 }, () => {
  const client = testClient();
  let ns: string;
  let moto: MotoServer;
  let key: { id: string; secret: string };
  let kubelet: ProcessKubelet;
  let operator: OperatorProcess;
  const api = (plural: string): string =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/${plural}`;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;
  const until = (name: string, what: string, predicate: (o: KubeObject) => boolean) =>
    waitForObject(
      client,
      api('inferenceservices'),
      name,
      what,
      (o) => o !== undefined && predicate(o),
      {
        timeoutMs: 240_000,
        diagnostics,
      },
    ) as Promise<KubeObject>;

  /** The storage-config Secret with these entries (server-side apply replaces its data). */
  const putStorageConfig = (entries: Record<string, object>) =>
    client.request('PATCH', `/api/v1/namespaces/${ns}/secrets/${STORAGE_CONFIG_SECRET}`, {
      contentType: PATCH.apply,
      query: { fieldManager: 'e2e-test', force: 'true' },
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: STORAGE_CONFIG_SECRET, namespace: ns },
        stringData: Object.fromEntries(
          Object.entries(entries).map(([k, v]) => [k, JSON.stringify(v)]),
        ),
      },
    });
  const motoEntry = () => ({
    type: 's3',
    access_key_id: key.id,
    secret_access_key: key.secret,
    endpoint_url: moto.endpoint,
    region: 'us-east-1',
    default_bucket: BUCKET,
  });

  const createShared = (name: string, storage: Record<string, unknown>) =>
    client.request('POST', api('inferenceservices'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name },
        spec: {
          deploymentMode: 'Shared',
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri: `s3://${BUCKET}/${name}/model.onnx`,
              storage,
              resources: { requests: { memory: '100Mi' } },
            },
          },
        },
      },
    });

  const shardPods = async (): Promise<Pod[]> =>
    (
      await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${ns}/pods`, {
        query: { labelSelector: 'serving.tessera.io/pool=pool,serving.tessera.io/shard=0' },
      })
    ).items.filter((p) => p.metadata?.deletionTimestamp === undefined);

  before(async () => {
    ns = await createNamespace(client, 'e2e-storage-config');
    moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
    key = await createS3Key(moto.endpoint);
    await createBucketWith(moto.endpoint, key, BUCKET, {
      'iris-a/model.onnx': IRIS,
      'iris-b/model.onnx': IRIS,
      'iris-c/model.onnx': IRIS,
      'iris-dedicated/model.onnx': IRIS,
    });
    await client
      .request('POST', '/apis/serving.tessera.io/v1alpha1/clusterservingruntimes', {
        body: parse(
          await readFile(
            join(REPO_ROOT, 'crds/samples/clusterservingruntime-tessera-onnx.yaml'),
            'utf8',
          ),
        ) as unknown,
      })
      .catch((err: unknown) => {
        // Another suite (or an earlier run) installed the default runtime already.
        if (!/409|already exists/i.test(String(err))) throw err;
      });
    await putStorageConfig({ moto: motoEntry() });
    await client.request('POST', api('servingruntimes'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'ServingRuntime',
        metadata: { name: 'pool' },
        spec: {
          multiModel: true,
          capacity: { memory: '1Gi' },
          protocolVersions: ['v2', 'grpc-v2'],
          supportedModelFormats: [{ name: 'onnx', autoSelect: true }],
          containers: [
            {
              name: 'kserve-container',
              image: 'tessera/server:0.1.0',
              args: ['start', '/mnt/models'],
            },
          ],
        },
      },
    });
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({ watchNamespace: ns, env: FAST_MODEL_RETRIES });
  });

  after(async () => {
    await operator.stop();
    await kubelet.stop();
    await moto.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('loads two models from a private bucket on one shard through storage.key', async () => {
    await createShared('iris-a', { key: 'moto' });
    await createShared('iris-b', { key: 'moto' });
    for (const name of ['iris-a', 'iris-b']) await until(name, 'Ready', ready);

    const shard = await client.request<KubeObject>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments/${SHARD}`,
    );
    const placed = JSON.parse(
      shard.metadata?.annotations?.['serving.tessera.io/placed-models'] ?? '[]',
    ) as string[];
    assert.deepEqual(placed, ['iris-a', 'iris-b']);
    for (const name of ['iris-a', 'iris-b']) {
      const [ip] = await serviceEndpoints(client, ns, `${name}-predictor`);
      assert.ok(ip !== undefined, `${name}: its Service selects the shard's ready pod`);
      const answer = await tritonInfer({
        http: `${ip}:${SERVER_PORTS.http}`,
        grpc: `${ip}:${SERVER_PORTS.grpc}`,
        model: name,
        input: 'input',
        output: 'probabilities',
        rows: [[5.1, 3.5, 1.4, 0.2]],
      });
      assert.ok('data' in answer.http, `${name} http: ${JSON.stringify(answer.http)}`);
    }
    assert.ok(!operator.logs().includes(key.secret), 'the secret never reaches the operator');
  });

  it('reports a key the Secret lacks as FailedToLoad, and recovers on the same pod once added', async () => {
    const before = (await shardPods()).map((p) => p.metadata?.uid).sort();
    assert.equal(before.length, 1);
    await createShared('iris-c', { key: 'moto-team-c' });
    const failed = await until(
      'iris-c',
      'FailedToLoad',
      (o) => statusOf(o).modelStatus?.states?.activeModelState === 'FailedToLoad',
    );
    const info = statusOf(failed).modelStatus?.lastFailureInfo;
    assert.equal(info?.reason, 'ModelLoadFailed');
    assert.match(
      info?.message ?? '',
      new RegExp(
        `storage-config Secret '${STORAGE_CONFIG_SECRET}', key 'moto-team-c': no such key \\(the Secret has: moto\\)`,
      ),
    );
    assert.equal(ready(failed), false);

    // Fixed in the Secret alone: the kubelet re-projects it, the agent reads it at the next pull.
    await putStorageConfig({ moto: motoEntry(), 'moto-team-c': motoEntry() });
    await until('iris-c', 'Ready once the key is added', ready);
    const after = await shardPods();
    assert.deepEqual(after.map((p) => p.metadata?.uid).sort(), before, 'the same shard pod');
    for (const pod of after) {
      for (const c of pod.status?.containerStatuses ?? []) assert.equal(c.restartCount, 0, c.name);
    }
    for (const name of ['iris-a', 'iris-b'])
      assert.ok(ready(await client.request('GET', `${api('inferenceservices')}/${name}`)), name);
    const all = JSON.stringify(await client.request('GET', api('inferenceservices')));
    assert.ok(!all.includes(key.secret), 'no secret in any status');
  });

  it('refuses storage.secretName in Shared mode with a condition and an Event, never placing it', async () => {
    await createShared('iris-own-secret', { secretName: 's3-credentials' });
    const refused = await until(
      'iris-own-secret',
      'refused',
      (o) =>
        statusOf(o).conditions?.find((c) => c.type === 'Ready')?.reason ===
        'StorageSecretNotSupportedInShared',
    );
    const condition = statusOf(refused).conditions?.find((c) => c.type === 'Ready');
    assert.equal(condition?.status, 'False');
    assert.match(condition?.message ?? '', /storage\.secretName is not supported in Shared mode/);
    assert.match(condition?.message ?? '', new RegExp(`Secret '${STORAGE_CONFIG_SECRET}'`));
    assert.match(condition?.message ?? '', /set spec\.predictor\.model\.storage\.key/);
    const event = await waitFor('the Warning event', async () => {
      const list = await client.request<{
        items: { reason: string; type: string; note: string; regarding: { name: string } }[];
      }>('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`);
      return list.items.find(
        (e) =>
          e.regarding.name === 'iris-own-secret' &&
          e.reason === 'StorageSecretNotSupportedInShared',
      );
    });
    assert.equal(event.type, 'Warning');
    assert.match(event.note, /use|set spec\.predictor\.model\.storage\.key/);
    const shard = await client.request<KubeObject>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments/${SHARD}`,
    );
    assert.ok(
      !(shard.metadata?.annotations?.['serving.tessera.io/placed-models'] ?? '').includes(
        'iris-own-secret',
      ),
      'never placed on a shard',
    );
  });

  it('gives a Dedicated model the same entry through the same key', async () => {
    await client.request('POST', api('inferenceservices'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'iris-dedicated' },
        spec: {
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri: `s3://${BUCKET}/iris-dedicated/model.onnx`,
              storage: { key: 'moto' },
            },
          },
        },
      },
    });
    const loaded = await until('iris-dedicated', 'Ready', ready);
    assert.ok(!JSON.stringify(loaded).includes(key.secret));
    const deployment = await client.request<KubeObject>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments/iris-dedicated-predictor`,
    );
    assert.match(JSON.stringify(deployment), new RegExp(`"secretName":"${STORAGE_CONFIG_SECRET}"`));
  });
});
