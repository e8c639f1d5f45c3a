// Shared mode end to end: several InferenceServices on one multi-model runtime are packed onto a
// pool shard's server by declared memory, the one that does not fit overflows into a second
// shard, and each model answers tritonclient through the shard its Service selects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { tritonInfer } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  serviceEndpoints,
  testClient,
  waitForObjects,
} from '../support/kube.js';
import { waitFor } from '../../integration/operator/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import { poolRuntime } from '../support/runtimes.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const IRIS = join(REPO_ROOT, 'examples/models/iris/model.onnx');
const MODELS = ['iris-a', 'iris-b', 'iris-c'];

describe('Shared mode end to end', { timeout: 600_000 }, () => {
  const client = testClient();
  let ns: string;
  let kubelet: ProcessKubelet;
  let storage: StorageServer;
  let operator: OperatorProcess;
  const api = (plural: string): string =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/${plural}`;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;

  before(async () => {
    ns = await createNamespace(client, 'e2e-shared');
    storage = await startStorageServer();
    for (const name of MODELS) await storage.put(`${name}/model.onnx`, IRIS);
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({
      watchNamespace: ns,
      env: { TESSERA_OPERATOR_MODEL_RECHECK_SECONDS: '5' },
    });
  });

  after(async () => {
    await operator.stop();
    await kubelet.stop();
    await storage.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('packs models onto a shard, overflows into a second one, and every model answers', async () => {
    await client.request('POST', api('servingruntimes'), { body: poolRuntime('pool', '1Gi') });
    for (const name of MODELS) {
      const body: KubeObject = {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name },
        spec: {
          deploymentMode: 'Shared',
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri: `${storage.url}/${name}/model.onnx`,
              resources: { requests: { memory: '400Mi' } },
            },
          },
        },
      };
      await client.request('POST', api('inferenceservices'), { body });
    }
    const ready = await waitForObjects(
      client,
      api('inferenceservices'),
      'every model Ready',
      (objects) => {
        const done = objects.filter((o) =>
          (
            o['status'] as { conditions?: { type: string; status: string }[] } | undefined
          )?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return done.length === MODELS.length ? objects : undefined;
      },
      { timeoutMs: 300_000, diagnostics },
    );
    assert.equal(ready.length, 3);

    // Two shards: two models fit one 1Gi server, the third opened a second.
    const shards = await client.request<{ items: KubeObject[] }>(
      'GET',
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      { query: { labelSelector: 'serving.tessera.io/pool=pool' } },
    );
    const placed: Record<string, string[]> = {};
    for (const d of shards.items) {
      const raw = d.metadata?.annotations?.['serving.tessera.io/placed-models'] ?? '[]';
      placed[d.metadata?.name ?? ''] = JSON.parse(raw) as string[];
    }
    assert.deepEqual(placed, {
      'tessera-pool-pool-0': ['iris-a', 'iris-b'],
      'tessera-pool-pool-1': ['iris-c'],
    });

    for (const name of MODELS) {
      const [ip] = await serviceEndpoints(client, ns, `${name}-predictor`);
      assert.ok(ip !== undefined, `${name}: its Service selects a ready shard pod`);
      const answer = await tritonInfer({
        http: `${ip}:${SERVER_PORTS.http}`,
        grpc: `${ip}:${SERVER_PORTS.grpc}`,
        model: name,
        input: 'input',
        output: 'probabilities',
        rows: [[5.1, 3.5, 1.4, 0.2]],
      });
      assert.ok('data' in answer.http, `${name} http: ${JSON.stringify(answer.http)}`);
      assert.ok('data' in answer.grpc, `${name} grpc: ${JSON.stringify(answer.grpc)}`);
    }
  });

  it('unloads a deleted model from its shard while the others keep serving', async () => {
    const [ip] = await serviceEndpoints(client, ns, 'iris-a-predictor');
    assert.ok(ip);
    await client.request('DELETE', `${api('inferenceservices')}/iris-a`);
    // The event waited for: the shard's server stops reporting the model ready (the placement
    // pass unloads it through the agent). The shared waitFor polls it, bounded.
    await waitFor(
      'iris-a unloaded from its shard',
      async () =>
        (await fetch(`http://${ip}:${SERVER_PORTS.http}/v2/models/iris-a/ready`)).status !== 200,
      120_000,
      200,
    );
    const b = await fetch(`http://${ip}:${SERVER_PORTS.http}/v2/models/iris-b/ready`);
    assert.equal(b.status, 200);
  });
});
