// The model loop end to end, Dedicated mode: kubectl-style apply of the samples → the operator
// (its own process) → pods on the process kubelet → each pod's agent pulls the model from a real
// HTTP store on loopback → the server's repository API → tritonclient answers, with the truth in
// status. Then an update under load, scaling, and the faults a user meets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { PATCH } from '../../../operator/src/kube/client.js';
import { onnxReference, tritonInfer } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  podReady,
  testClient,
  waitForObject,
  waitForObjects,
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
const NAME = 'sklearn-iris';
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

interface ModelStatus {
  loaded?: string;
  transitionStatus?: string;
  states?: { activeModelState?: string; targetModelState?: string };
  copies?: { totalCopies?: number; failedCopies?: number };
  lastFailureInfo?: { reason?: string; message?: string; location?: string };
  replicas?: { pod: string; state: string; storageUri?: string; reason?: string }[];
}

function sample(file: string, namespace: string): KubeObject {
  const doc = parse(readFileSync(join(REPO_ROOT, 'crds/samples', file), 'utf8')) as KubeObject;
  return { ...doc, metadata: { ...doc.metadata, namespace } };
}

function statusOf(o: KubeObject | undefined): {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  modelStatus?: ModelStatus;
} {
  return o?.['status'] ?? {};
}

function condition(o: KubeObject | undefined, type: string) {
  return statusOf(o).conditions?.find((c) => c.type === type);
}

describe('model lifecycle end to end (Dedicated)', { timeout: 900_000 }, () => {
  const client = testClient();
  let ns: string;
  let kubelet: ProcessKubelet;
  let storage: StorageServer;
  let operator: OperatorProcess;
  const isvcs = (): string =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`;
  const pods = (): string => `/api/v1/namespaces/${ns}/pods`;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;
  const uri = (path: string): string => `${storage.url}/${path}`;
  const patchIsvc = (body: unknown) =>
    client.request('PATCH', `${isvcs()}/${NAME}`, { contentType: PATCH.merge, body });

  /** Waits until the InferenceService's status satisfies `predicate`. */
  const untilStatus = (what: string, predicate: (o: KubeObject) => boolean, timeoutMs = 180_000) =>
    waitForObject(client, isvcs(), NAME, what, (o) => o !== undefined && predicate(o), {
      timeoutMs,
      diagnostics,
    }) as Promise<KubeObject>;

  const readyPods = async (): Promise<Pod[]> =>
    (await client.request<{ items: Pod[] }>('GET', pods())).items.filter(
      (p) => podReady(p) && p.metadata?.deletionTimestamp === undefined,
    );

  const infer = async (pod: Pod) => {
    const ip = pod.status?.podIP ?? '';
    return tritonInfer({
      http: `${ip}:${SERVER_PORTS.http}`,
      grpc: `${ip}:${SERVER_PORTS.grpc}`,
      model: NAME,
      input: 'input',
      output: 'probabilities',
      rows: ROWS,
    });
  };

  before(async () => {
    ns = await createNamespace(client, 'e2e-life');
    storage = await startStorageServer();
    await storage.put('iris/v1/model.onnx', IRIS);
    await storage.put('iris/v2/model.onnx', IRIS);
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({
      watchNamespace: ns,
      env: FAST_MODEL_RETRIES,
    });
  });

  after(async () => {
    await operator.stop();
    await kubelet.stop();
    await storage.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('applies the samples, and the model answers tritonclient on REST and gRPC with status telling the truth', async () => {
    await client.request(
      'POST',
      `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/servingruntimes`,
      {
        body: sample('servingruntime-sklearn.yaml', ns),
      },
    );
    const isvc = sample('inferenceservice-sklearn-iris.yaml', ns);
    // The sample points at KServe's public bucket; here the same model sits in a loopback store.
    (isvc['spec'] as { predictor: { model: { storageUri: string } } }).predictor.model.storageUri =
      uri('iris/v1/model.onnx');
    await client.request('POST', isvcs(), { body: isvc });

    const ready = await untilStatus('Ready', (o) => condition(o, 'Ready')?.status === 'True');
    const model = statusOf(ready).modelStatus;
    assert.equal(model?.loaded, '1/1');
    assert.equal(model.states?.activeModelState, 'Loaded');
    assert.equal(model.transitionStatus, 'UpToDate');
    assert.equal(model.replicas?.[0]?.storageUri, uri('iris/v1/model.onnx'));
    assert.equal(condition(ready, 'ModelsReady')?.reason, 'ModelsLoaded');

    const [pod] = await readyPods();
    assert.ok(pod, 'a ready pod');
    const answer = await infer(pod);
    const reference = await onnxReference(
      IRIS,
      { input: { data: ROWS, datatype: 'FP32' } },
      {
        outputs: ['probabilities'],
      },
    );
    const expected = reference.outputs[0]?.data as number[];
    for (const protocol of ['http', 'grpc'] as const) {
      const got = answer[protocol];
      assert.ok('data' in got, `${protocol}: ${JSON.stringify(got)}`);
      assert.deepEqual(got.shape, [2, 3]);
      got.data.forEach((v, i) => {
        assert.ok(Math.abs(v - (expected[i] ?? NaN)) <= 1e-6, `${protocol}[${i}]`);
      });
    }
  });

  it('updates the storageUri in place under constant load with zero failed requests', async () => {
    const [pod] = await readyPods();
    assert.ok(pod);
    const url = `http://${pod.status?.podIP ?? ''}:${SERVER_PORTS.http}/v2/models/${NAME}/infer`;
    const body = JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: ROWS[0] }],
    });
    let stop = false;
    const failures: string[] = [];
    let sent = 0;
    const loop = async (): Promise<void> => {
      // Bounded: it stops when the update is observed, and after 20,000 requests at most.
      while (!stop && sent < 20_000) {
        sent++;
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }).catch((e: unknown) => ({
          ok: false,
          status: 0,
          text: () => Promise.resolve(String(e)),
        }));
        if (!res.ok) failures.push(`${res.status}: ${await res.text()}`);
      }
    };
    const loops = [loop(), loop()];
    await patchIsvc({ spec: { predictor: { model: { storageUri: uri('iris/v2/model.onnx') } } } });
    const updated = await untilStatus(
      'the new storageUri served',
      (o) =>
        statusOf(o).modelStatus?.replicas?.[0]?.storageUri === uri('iris/v2/model.onnx') &&
        statusOf(o).modelStatus?.transitionStatus === 'UpToDate',
    );
    stop = true;
    await Promise.all(loops);
    assert.ok(sent > 0);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
    assert.equal(condition(updated, 'Ready')?.status, 'True');
    // The update did not replace the pod: the agent swapped the model inside it.
    const [after] = await readyPods();
    assert.equal(after?.metadata?.uid, pod.metadata?.uid);
  });

  it('scales up: a new pod gets its model loaded before it counts as a ready copy', async () => {
    await patchIsvc({ spec: { predictor: { replicas: 2 } } });
    const scaled = await untilStatus(
      '2/2 loaded',
      (o) => statusOf(o).modelStatus?.loaded === '2/2',
    );
    assert.equal(statusOf(scaled).modelStatus?.copies?.totalCopies, 2);
    const ready = await readyPods();
    assert.equal(ready.length, 2);
    // A pod is Ready only once its server serves the model (required_models), so both answer.
    for (const pod of ready) {
      const answer = await infer(pod);
      assert.ok('data' in answer.http, JSON.stringify(answer.http));
      assert.ok('data' in answer.grpc, JSON.stringify(answer.grpc));
    }
  });

  it('re-drives a killed pod: the replacement gets the model again', async () => {
    const [victim] = await readyPods();
    assert.ok(victim);
    await client.request('DELETE', `${pods()}/${victim.metadata?.name ?? ''}`);
    await waitForObjects(
      client,
      pods(),
      'a new ready pod',
      (objects) =>
        (objects as Pod[]).filter((p) => p.metadata?.uid !== victim.metadata?.uid && podReady(p))
          .length === 2,
      { timeoutMs: 180_000, diagnostics },
    );
    await untilStatus('2/2 loaded again', (o) => statusOf(o).modelStatus?.loaded === '2/2');
  });

  it('survives an agent restart: the model keeps serving and the status stays true', async () => {
    const [pod] = await readyPods();
    assert.ok(pod);
    const agent = pod.status?.containerStatuses?.find((c) => c.name === 'agent');
    const pid = Number(/^process:\/\/(\d+)$/.exec(agent?.containerID ?? '')?.[1]);
    assert.ok(pid > 0, 'the agent process id');
    process.kill(pid, 'SIGKILL');
    await waitForObjects(
      client,
      pods(),
      'the agent restarted',
      (objects) => {
        const p = (objects as Pod[]).find((o) => o.metadata?.uid === pod.metadata?.uid);
        const status = p?.status?.containerStatuses?.find((c) => c.name === 'agent');
        return (status?.restartCount ?? 0) >= 1 && status?.ready === true;
      },
      { timeoutMs: 180_000, diagnostics },
    );
    const answer = await infer(pod);
    assert.ok('data' in answer.http, JSON.stringify(answer.http));
    await untilStatus('still 2/2', (o) => statusOf(o).modelStatus?.loaded === '2/2');
  });

  it('reports a missing object as FailedToLoad with the reason, and recovers once it exists', async () => {
    const uids = (await readyPods()).map((p) => p.metadata?.uid).sort();
    await patchIsvc({ spec: { predictor: { model: { storageUri: uri('iris/v3/model.onnx') } } } });
    const failed = await untilStatus(
      'FailedToLoad',
      (o) => statusOf(o).modelStatus?.transitionStatus === 'BlockedByFailedLoad',
    );
    const info = statusOf(failed).modelStatus?.lastFailureInfo;
    assert.equal(info?.reason, 'ModelLoadFailed');
    assert.match(info?.message ?? '', /404|not found|does not exist/i);
    // The old version keeps serving while the new one cannot be pulled.
    assert.equal(statusOf(failed).modelStatus?.states?.activeModelState, 'Loaded');
    assert.equal(condition(failed, 'Ready')?.status, 'True');

    await storage.put('iris/v3/model.onnx', IRIS);
    await untilStatus(
      'recovered without recreating anything',
      (o) =>
        statusOf(o).modelStatus?.transitionStatus === 'UpToDate' &&
        (statusOf(o).modelStatus?.replicas ?? []).every(
          (r) => r.storageUri === uri('iris/v3/model.onnx'),
        ),
    );
    assert.deepEqual((await readyPods()).map((p) => p.metadata?.uid).sort(), uids);
  });

  it('converges after an operator restart in the middle of a rollout', async () => {
    await storage.put('iris/v4/model.onnx', IRIS);
    await operator.stop();
    await patchIsvc({ spec: { predictor: { model: { storageUri: uri('iris/v4/model.onnx') } } } });
    operator = await operator.restart();
    await untilStatus(
      'v4 everywhere',
      (o) =>
        statusOf(o).modelStatus?.transitionStatus === 'UpToDate' &&
        (statusOf(o).modelStatus?.replicas ?? []).every(
          (r) => r.storageUri === uri('iris/v4/model.onnx'),
        ),
    );
  });

  it('deletes an InferenceService while its model is still loading', async () => {
    storage.stall('iris/stalled/model.onnx');
    await patchIsvc({
      spec: { predictor: { model: { storageUri: uri('iris/stalled/model.onnx') } } },
    });
    await waitForObjects(
      client,
      isvcs(),
      'the stalled pull started',
      () => storage.requests.includes('/iris/stalled/model.onnx'),
      { timeoutMs: 120_000, diagnostics },
    );
    await client.request('DELETE', `${isvcs()}/${NAME}`);
    await waitForObject(client, isvcs(), NAME, 'deleted', (o) => o === undefined, {
      timeoutMs: 120_000,
      diagnostics,
    });
    await waitForObjects(client, pods(), 'no pods left', (objects) => objects.length === 0, {
      timeoutMs: 180_000,
      diagnostics,
    });
    storage.releaseStalls();
    // The operator is still healthy and serving its API.
    const health = await fetch(`${operator.healthUrl}/readyz`);
    assert.equal(health.status, 200);
  });
});
