// Shared mode places by max(declared, reported) memory, end to end: a model that declares 4Mi
// but whose server reports 17Mi (an ONNX model with 16 MiB of weights, written by onnx.helper)
// fills its 20Mi pool shard, so a second model that declares 4Mi, which by declared memory
// alone would share that shard (4Mi + 4Mi <= 20Mi), overflows into a second shard. The figure
// travels as it does in a cluster: the server's index (memory_bytes) → the agent's index → the
// operator's model driver → status.modelStatus.reportedMemory → placement, with a Warning Event
// saying that the model holds more than it declares.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_PORT, RepositoryClient, SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { makeMemoryModels, tritonInfer } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  serviceEndpoints,
  testClient,
  waitForObject,
  waitForObjects,
} from '../support/kube.js';
import { waitFor } from '../../integration/operator/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const Mi = 2 ** 20;
const IRIS = join(REPO_ROOT, 'examples/models/iris/model.onnx');

interface ModelStatusView {
  conditions?: { type: string; status: string }[];
  modelStatus?: {
    reportedMemory?: { bytes: number; storageUri: string };
    replicas?: { pod: string; memoryBytes?: number }[];
  };
}

interface MemoryEvent {
  reason: string;
  type: string;
  note: string;
  series?: unknown;
  regarding: { name: string };
}

const statusOf = (obj: KubeObject | undefined): ModelStatusView =>
  (obj?.['status'] as ModelStatusView | undefined) ?? {};
const isReady = (obj: KubeObject | undefined): boolean =>
  statusOf(obj).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('Shared mode places by the memory the servers report', { timeout: 600_000 }, () => {
  const client = testClient();
  let ns: string;
  let dir: string;
  let kubelet: ProcessKubelet;
  let storage: StorageServer;
  let operator: OperatorProcess;
  let wideBytes: number;
  const api = (plural: string): string =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/${plural}`;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;

  const createModel = async (name: string, storageUri: string): Promise<void> => {
    await client.request('POST', api('inferenceservices'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name },
        spec: {
          deploymentMode: 'Shared',
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri,
              resources: { requests: { memory: '4Mi' } },
            },
          },
        },
      },
    });
  };

  const placements = async (): Promise<Record<string, string[]>> => {
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
    return placed;
  };

  /** Waits for `count` ReportedMemoryExceedsDeclared Events about `wide`. */
  const memoryWarnings = (count: number) =>
    waitForObjects(
      client,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      `${count} ReportedMemoryExceedsDeclared Event(s)`,
      (objects) => {
        const found = (objects as unknown as MemoryEvent[]).filter(
          (e) => e.regarding.name === 'wide' && e.reason === 'ReportedMemoryExceedsDeclared',
        );
        return found.length === count ? found : undefined;
      },
      { timeoutMs: 60_000, diagnostics },
    );

  before(async () => {
    ns = await createNamespace(client, 'e2e-memory');
    dir = await mkdtemp(join(tmpdir(), 'tessera-e2e-memory-'));
    await makeMemoryModels(dir, { weightsMib: 16 });
    const wide = join(dir, 'wide/model.onnx');
    wideBytes = (await stat(wide)).size;
    storage = await startStorageServer();
    await storage.put('wide/model.onnx', wide);
    await storage.put('iris/model.onnx', IRIS);
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({
      watchNamespace: ns,
      env: { TESSERA_OPERATOR_MODEL_RECHECK_SECONDS: '5' },
    });
    await client.request('POST', api('servingruntimes'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'ServingRuntime',
        metadata: { name: 'pool' },
        spec: {
          multiModel: true,
          capacity: { memory: '20Mi' },
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
  });

  after(async () => {
    await operator.stop();
    await kubelet.stop();
    await storage.stop();
    await deleteNamespace(client, ns);
    await rm(dir, { recursive: true, force: true });
    client.close();
  });

  it('records what the server reports for a model that declares less', async () => {
    const uri = `${storage.url}/wide/model.onnx`;
    await createModel('wide', uri);
    const wide = await waitForObject(
      client,
      api('inferenceservices'),
      'wide',
      'Ready with its reported memory',
      (obj) => isReady(obj) && statusOf(obj).modelStatus?.reportedMemory !== undefined,
      { timeoutMs: 300_000, diagnostics },
    );
    // One session (parallel_workers 1) holding the file's bytes, rounded up to whole MiB.
    const expected = Math.ceil(wideBytes / Mi) * Mi;
    assert.equal(expected, 17 * Mi);
    const modelStatus = statusOf(wide).modelStatus;
    assert.deepEqual(modelStatus?.reportedMemory, { bytes: expected, storageUri: uri });
    assert.deepEqual(
      modelStatus?.replicas?.map((r) => r.memoryBytes),
      [expected],
    );
    // The agent the operator asked relays the server's exact figure.
    const [ip] = await serviceEndpoints(client, ns, 'wide-predictor');
    assert.ok(ip !== undefined, 'wide: its Service selects a ready shard pod');
    const index = await new RepositoryClient(`http://${ip}:${AGENT_PORT}`).agentIndex();
    assert.equal(index.find((e) => e.name === 'wide')?.memory_bytes, wideBytes);
    assert.deepEqual(await placements(), { 'tessera-pool-pool-0': ['wide'] });
    // And the operator said so on the InferenceService (Events are sent after the status write).
    const [warning] = await memoryWarnings(1);
    assert.equal(warning?.type, 'Warning');
    assert.match(warning?.note ?? '', /report 17 MiB for the model, more than the 4 MiB/);
  });

  it('overflows the next model into a second shard, and both answer', async () => {
    await createModel('iris', `${storage.url}/iris/model.onnx`);
    await waitForObject(client, api('inferenceservices'), 'iris', 'Ready', isReady, {
      timeoutMs: 300_000,
      diagnostics,
    });
    // By declared memory, 4Mi + 4Mi fit one 20Mi server; wide's 17Mi leave no room for iris.
    assert.deepEqual(await placements(), {
      'tessera-pool-pool-0': ['wide'],
      'tessera-pool-pool-1': ['iris'],
    });
    const call = async (model: string, output: string) => {
      const [ip] = await serviceEndpoints(client, ns, `${model}-predictor`);
      assert.ok(ip !== undefined, `${model}: its Service selects a ready shard pod`);
      return tritonInfer({
        http: `${ip}:${SERVER_PORTS.http}`,
        grpc: `${ip}:${SERVER_PORTS.grpc}`,
        model,
        input: 'input',
        output,
        rows: [[1, 1, 1, 1]],
      });
    };
    const wide = await call('wide', 'total');
    // 2^20 columns of 4 weights of 1/1024: each column gives 4/1024, their sum 4096 (exact in FP32).
    assert.ok('data' in wide.http, `wide http: ${JSON.stringify(wide.http)}`);
    assert.ok('data' in wide.grpc, `wide grpc: ${JSON.stringify(wide.grpc)}`);
    assert.deepEqual(wide.http.data, [4096]);
    const iris = await call('iris', 'probabilities');
    assert.ok('data' in iris.http, `iris http: ${JSON.stringify(iris.http)}`);
    assert.ok('data' in iris.grpc, `iris grpc: ${JSON.stringify(iris.grpc)}`);
  });

  it('writes nothing at steady state while the servers keep reporting', async () => {
    const versions = async (): Promise<string[]> => {
      const isvcs = await client.request<{ items: KubeObject[] }>('GET', api('inferenceservices'));
      const shards = await client.request<{ items: KubeObject[] }>(
        'GET',
        `/apis/apps/v1/namespaces/${ns}/deployments`,
      );
      return [
        ...isvcs.items.map((o) => `${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`),
        ...shards.items.map((o) => `${o.metadata?.name ?? ''}#${o.metadata?.generation ?? 0}`),
      ].sort();
    };
    const passes = async (): Promise<{ models: number; placement: number }> => {
      const text = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
      const count = (controller: string): number =>
        Number(
          new RegExp(
            `controller_runtime_reconcile_total\\{controller="${controller}",result="requeue_after"\\} (\\d+)`,
          ).exec(text)?.[1] ?? 0,
        );
      return { models: count('models'), placement: count('placement') };
    };
    const before = await versions();
    const start = await passes();
    // The event waited for: two more passes of the model driver over both models (each reads
    // the agents' memory reports afresh) and of the placement reconciler.
    await waitFor(
      'two recheck passes of the model driver and placement',
      async () => {
        const now = await passes();
        return now.models >= start.models + 4 && now.placement >= start.placement + 2;
      },
      120_000,
      500,
    );
    assert.deepEqual(await versions(), before);
    // Said once, on the transition: neither repeated nor folded into a series.
    const [warning] = await memoryWarnings(1);
    assert.equal(warning?.series, undefined);
  });
});
