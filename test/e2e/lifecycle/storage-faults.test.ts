// Download faults end to end: bad S3 credentials (moto with authentication enforced) and a stalled
// HTTP transfer each end in FailedToLoad with the reason in status (never a secret), are retried
// with backoff, and recover once fixed (the Secret corrected, the store answering again) without
// recreating the pod. The missing-object case is in dedicated.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CREDENTIAL_FILES } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
import { INFERENCE_SERVICE_LABEL } from '../../../operator/src/manifests/labels.js';
import {
  createBucketWith,
  createS3Key,
  startMoto,
  type MotoServer,
} from '../../support/moto-server.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  podReady,
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
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const IRIS = join(REPO_ROOT, 'examples/models/iris/model.onnx');
const BUCKET = 'models';

interface Status {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  modelStatus?: {
    loaded?: string;
    transitionStatus?: string;
    states?: { activeModelState?: string };
    lastFailureInfo?: { reason?: string; message?: string; location?: string; time?: string };
  };
}

const statusOf = (o: KubeObject | undefined): Status => o?.['status'] ?? {};
const ready = (o: KubeObject | undefined): boolean =>
  statusOf(o).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('download faults end to end', { timeout: 900_000 }, () => {
  const client = testClient();
  let ns: string;
  let moto: MotoServer;
  let key: { id: string; secret: string };
  let storage: StorageServer;
  let kubelet: ProcessKubelet;
  let operator: OperatorProcess;
  const isvcs = (): string =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;

  const until = (name: string, what: string, predicate: (o: KubeObject) => boolean) =>
    waitForObject(client, isvcs(), name, what, (o) => o !== undefined && predicate(o), {
      timeoutMs: 180_000,
      diagnostics,
    }) as Promise<KubeObject>;

  const podUids = async (name: string): Promise<string[]> =>
    (
      await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${ns}/pods`, {
        query: { labelSelector: `${INFERENCE_SERVICE_LABEL}=${name}` },
      })
    ).items
      .filter((p) => podReady(p) || p.status?.phase === 'Running')
      .map((p) => p.metadata?.uid ?? '')
      .sort();

  const createIsvc = (name: string, storageUri: string, secretName?: string) =>
    client.request('POST', isvcs(), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name, namespace: ns },
        spec: {
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri,
              ...(secretName === undefined ? {} : { storage: { secretName } }),
            },
          },
        },
      },
    });

  const putSecret = (name: string, secretKey: string) =>
    client.request('PATCH', `/api/v1/namespaces/${ns}/secrets/${name}`, {
      contentType: PATCH.apply,
      query: { fieldManager: 'e2e-test', force: 'true' },
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: ns },
        stringData: {
          [CREDENTIAL_FILES.s3AccessKeyId]: key.id,
          [CREDENTIAL_FILES.s3SecretAccessKey]: secretKey,
          [CREDENTIAL_FILES.s3Endpoint]: moto.endpoint,
        },
      },
    });

  before(async () => {
    ns = await createNamespace(client, 'e2e-faults');
    moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
    key = await createS3Key(moto.endpoint);
    await createBucketWith(moto.endpoint, key, BUCKET, { 'iris/model.onnx': IRIS });
    storage = await startStorageServer();
    await storage.put('iris/slow/model.onnx', IRIS);
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
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({
      watchNamespace: ns,
      env: FAST_MODEL_RETRIES,
    });
  });

  after(async () => {
    await operator.stop();
    await kubelet.stop();
    storage.releaseStalls();
    await storage.stop();
    await moto.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('reports bad S3 credentials as FailedToLoad without the secret, and recovers once the Secret is fixed', async () => {
    const wrong = `${key.secret.slice(0, -4)}XXXX`;
    await putSecret('s3-credentials', wrong);
    await createIsvc('iris-s3', `s3://${BUCKET}/iris/model.onnx`, 's3-credentials');
    const failed = await until(
      'iris-s3',
      'FailedToLoad',
      (o) => statusOf(o).modelStatus?.states?.activeModelState === 'FailedToLoad',
    );
    const status = statusOf(failed);
    assert.equal(ready(failed), false);
    const readyCondition = status.conditions?.find((c) => c.type === 'Ready');
    assert.equal(readyCondition?.reason, 'FailedToLoad');
    const info = status.modelStatus?.lastFailureInfo;
    assert.equal(info?.reason, 'ModelLoadFailed');
    assert.match(info?.message ?? '', /denied|credentials|signature/i);
    assert.ok(info?.location !== undefined && info.time !== undefined, JSON.stringify(info));
    for (const text of [JSON.stringify(failed), operator.logs()]) {
      assert.ok(!text.includes(wrong), 'the secret key never appears in status or logs');
      assert.ok(!text.includes(key.secret), 'nor does the right one');
    }
    const pods = await podUids('iris-s3');
    assert.equal(pods.length, 1);

    await putSecret('s3-credentials', key.secret);
    const fixed = await until('iris-s3', 'Ready once the Secret is fixed', (o) => ready(o));
    assert.equal(statusOf(fixed).modelStatus?.loaded, '1/1');
    assert.equal(statusOf(fixed).modelStatus?.transitionStatus, 'UpToDate');
    assert.deepEqual(await podUids('iris-s3'), pods, 'the same pod, not a new one');
  });

  it('reports a stalled transfer as FailedToLoad, and recovers once the store answers', async () => {
    storage.stall('iris/slow/model.onnx');
    await createIsvc('iris-stalled', `${storage.url}/iris/slow/model.onnx`);
    const failed = await until(
      'iris-stalled',
      'FailedToLoad',
      (o) => statusOf(o).modelStatus?.states?.activeModelState === 'FailedToLoad',
    );
    const info = statusOf(failed).modelStatus?.lastFailureInfo;
    assert.equal(info?.reason, 'ModelLoadFailed');
    assert.match(info?.message ?? '', /stall|nothing arrived|no data|timed out/i);
    const pods = await podUids('iris-stalled');
    const requestsBefore = storage.requests.filter((r) => r === '/iris/slow/model.onnx').length;

    storage.releaseStalls();
    const fixed = await until('iris-stalled', 'Ready once the store answers', (o) => ready(o));
    assert.equal(statusOf(fixed).modelStatus?.loaded, '1/1');
    assert.ok(
      storage.requests.filter((r) => r === '/iris/slow/model.onnx').length > requestsBefore,
      'the pull was retried',
    );
    assert.deepEqual(await podUids('iris-stalled'), pods, 'the same pod, not a new one');
  });
});
