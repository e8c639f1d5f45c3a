// A Python runtime through the whole platform: an MLServer model folder (a scikit-learn pickle
// served by mlserver_sklearn.SKLearnModel, as MLServer's walk-through has it) packed as a tar.gz
// in a loopback store → an InferenceService naming the chart's `tessera-python` runtime (rendered
// by the real helm) → the operator → a pod of tessera/server-python on the process kubelet (the
// image's entrypoint and ENV, its Python being the mlserver peer's virtualenv, built from the
// image's own requirements file) → the agent downloads and unpacks the folder → the server's
// Python worker loads it → the answers scikit-learn itself gives, with the truth in status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_PORTS } from '@tessera/contract';
import { render } from '../../integration/chart/helm.js';
import { tarGz } from '../../support/archives.js';
import { mlserverPython } from '../../support/mlserver-peer.js';
import { lastJsonLine, runPython } from '../../support/python-peer.js';
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
import {
  ProcessKubelet,
  serverImageRule,
  serverPythonImageRule,
} from '../support/process-kubelet.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const NAME = 'iris-pickle';

interface Trained {
  rows: number[][];
  predict: number[];
}

interface IsvcStatus {
  conditions?: { type: string; status: string; reason?: string }[];
  runtimeName?: string;
  modelStatus?: { loaded?: string; states?: { activeModelState?: string } };
}

describe('a Python runtime end to end (tessera/server-python)', { timeout: 600_000 }, () => {
  const client = testClient();
  let ns: string;
  let work: string;
  let trained: Trained;
  let storage: StorageServer;
  let kubelet: ProcessKubelet;
  let operator: OperatorProcess;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;

  before(async () => {
    ns = await createNamespace(client, 'e2e-python');
    work = await mkdtemp(join(tmpdir(), 'tessera-e2e-python-'));
    const folder = join(work, 'iris');
    const train = await runPython(
      [join(REPO_ROOT, 'test/peers/mlserver/train_sklearn.py'), '--out', folder],
      120_000,
      undefined,
      mlserverPython(),
    );
    assert.equal(train.code, 0, train.stderr.slice(-2000));
    trained = lastJsonLine(train.stdout) as Trained;
    const settings = { name: NAME, implementation: 'mlserver_sklearn.SKLearnModel' };
    const archive = join(work, 'iris.tar.gz');
    await writeFile(
      archive,
      await tarGz([
        { name: 'model-settings.json', content: Buffer.from(JSON.stringify(settings)) },
        { name: 'model.joblib', content: await readFile(join(folder, 'model.joblib')) },
      ]),
    );
    storage = await startStorageServer();
    await storage.put('models/iris.tar.gz', archive);
    kubelet = await ProcessKubelet.start(client, {
      namespaces: [ns],
      images: [serverImageRule(), serverPythonImageRule()],
      probeTimeScale: 0.5,
    });
    operator = await startOperator({ watchNamespace: ns, env: FAST_MODEL_RETRIES });
  });

  after(async () => {
    await operator?.stop();
    await kubelet?.stop();
    await storage?.stop();
    await deleteNamespace(client, ns);
    await rm(work, { recursive: true, force: true });
    client.close();
  });

  it("serves a pickle through the chart's python runtime with scikit-learn's own answers", async () => {
    // The chart's runtimes for a namespace-scoped install into this namespace.
    const rendered = await render('tessera', 'tessera-system', [
      '--set',
      'namespaced=true',
      '--set',
      `watchNamespaces={${ns}}`,
    ]);
    const runtime = rendered.find(
      (o) => o.kind === 'ServingRuntime' && o.metadata?.name === 'tessera-python',
    );
    assert.ok(runtime, 'the chart renders the tessera-python runtime');
    const { annotations: _hook, ...metadata } = runtime.metadata ?? {};
    await client.request(
      'POST',
      `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/servingruntimes`,
      {
        body: { ...runtime, metadata },
      },
    );
    await client.request(
      'POST',
      `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`,
      {
        body: {
          apiVersion: 'serving.tessera.io/v1alpha1',
          kind: 'InferenceService',
          metadata: { name: NAME, namespace: ns },
          spec: {
            predictor: {
              model: {
                // sklearn stays on the ONNX runtime unless a pickle names the Python one.
                modelFormat: { name: 'sklearn' },
                runtime: 'tessera-python',
                storageUri: `${storage.url}/models/iris.tar.gz`,
              },
            },
          },
        },
      },
    );
    const ready = await waitForObject(
      client,
      `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`,
      NAME,
      'Ready, 1/1 loaded',
      (o) => {
        const status = o?.['status'] as IsvcStatus | undefined;
        return (
          status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
          status.modelStatus?.loaded === '1/1'
        );
      },
      { timeoutMs: 240_000, diagnostics },
    );
    const status = ready?.['status'] as IsvcStatus;
    assert.equal(status.runtimeName, 'tessera-python');
    assert.equal(status.modelStatus?.states?.activeModelState, 'Loaded');

    const [pod] = (
      await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${ns}/pods`)
    ).items.filter(podReady);
    assert.ok(pod, 'a ready server pod');
    assert.match(pod.spec?.containers[0]?.image ?? '', /tessera\/server-python:/);
    const base = `http://${pod.status?.podIP ?? ''}:${String(SERVER_PORTS.http)}`;
    // The Python worker, not a native runtime, serves it (the chosen path is in the metadata).
    const meta = (await (await fetch(`${base}/v2/models/${NAME}`)).json()) as {
      parameters?: Record<string, unknown>;
    };
    assert.equal(meta.parameters?.['runtime_path'], 'python');
    const res = await fetch(`${base}/v2/models/${NAME}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          {
            name: 'input-0',
            datatype: 'FP64',
            shape: [trained.rows.length, 4],
            data: trained.rows.flat(),
          },
        ],
      }),
    });
    const body = (await res.json()) as { outputs?: { name: string; data: number[] }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(
      body.outputs?.map((o) => o.name),
      ['predict'],
    );
    assert.deepEqual(body.outputs?.[0]?.data, trained.predict);
  });
});
