// `helm install` of charts/tessera into the test control plane (namespace-scoped mode, CRDs
// managed outside the release as the control plane installs them), the operator started from
// the Deployment Helm created (its command and environment, with its service account's token),
// a sample InferenceService from crds/samples/ served by the chart's own sklearn runtime on the
// process kubelet, then `helm uninstall` leaving none of the release's objects behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { CHART, helm, ok } from '../../integration/chart/helm.js';
import {
  createNamespace,
  deleteNamespace,
  serviceAccountKubeConfig,
  podReady,
  testClient,
  waitForObject,
  waitForObjects,
} from '../support/kube.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import type { Pod } from '../support/pod-types.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const RELEASE = 'tessera';
const NAME = 'sklearn-iris';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface OperatorDeployment extends KubeObject {
  spec: { template: { spec: { containers: { command?: string[]; env?: EnvVar[] }[] } } };
}

/** The API path of one object of a Helm manifest. */
function pathOf(o: KubeObject): string {
  const ns = o.metadata?.namespace ?? '';
  const name = o.metadata?.name ?? '';
  const group = (o.apiVersion ?? '').includes('/')
    ? `/apis/${o.apiVersion ?? ''}`
    : `/api/${o.apiVersion ?? ''}`;
  const plural: Record<string, string> = {
    ServiceAccount: 'serviceaccounts',
    Service: 'services',
    Deployment: 'deployments',
    Role: 'roles',
    RoleBinding: 'rolebindings',
    NetworkPolicy: 'networkpolicies',
    ServingRuntime: 'servingruntimes',
    ConfigMap: 'configmaps',
  };
  const resource = plural[o.kind ?? ''];
  if (resource === undefined) throw new Error(`unexpected kind in the release: ${String(o.kind)}`);
  return `${group}/namespaces/${ns}/${resource}/${name}`;
}

describe(
  'helm install of charts/tessera, a first model, helm uninstall',
  { timeout: 600_000 },
  () => {
    const client = testClient();
    let release: string;
    let models: string;
    let kubelet: ProcessKubelet;
    let storage: StorageServer;
    let operator: OperatorProcess | undefined;
    let manifest: KubeObject[] = [];
    const diagnostics = (): string =>
      `${kubelet.dumpLogs()}\n--- operator ---\n${operator?.logs() ?? ''}`;

    before(async () => {
      release = await createNamespace(client, 'e2e-helm');
      models = await createNamespace(client, 'e2e-models');
      storage = await startStorageServer();
      await storage.put('iris/model.onnx', join(REPO_ROOT, 'examples/models/iris/model.onnx'));
      kubelet = await ProcessKubelet.start(client, { namespaces: [models], probeTimeScale: 0.5 });
    });

    after(async () => {
      await operator?.stop();
      await kubelet.stop();
      await storage.stop();
      await deleteNamespace(client, models);
      await deleteNamespace(client, release);
      client.close();
    });

    it('installs, serves the sample from the chart runtime, and uninstalls without a trace', async () => {
      ok(
        await helm(
          'install',
          RELEASE,
          CHART,
          '--namespace',
          release,
          '--set',
          'namespaced=true',
          '--set',
          `watchNamespaces={${models}}`,
          // The control plane already has the CRDs (kubectl apply -f crds/, as a cluster admin would).
          '--set',
          'crds.install=false',
        ),
        'helm install',
      );
      manifest = parseAllDocuments(
        ok(await helm('get', 'manifest', RELEASE, '--namespace', release), 'helm get manifest')
          .stdout,
      )
        .map((d) => d.toJSON() as KubeObject | null)
        .filter((o): o is KubeObject => o !== null);
      for (const o of manifest) await client.request('GET', pathOf(o));

      // The operator as the Deployment Helm created runs it: its command and environment, its token.
      const deployment = await client.request<OperatorDeployment>(
        'GET',
        `/apis/apps/v1/namespaces/${release}/deployments/${RELEASE}-operator`,
      );
      const container = deployment.spec.template.spec.containers[0];
      assert.deepEqual(container?.command, ['node', 'operator/dist/main.js']);
      const podName = `${RELEASE}-operator-e2e`;
      const env: Record<string, string> = {};
      for (const e of container?.env ?? []) {
        const field = e.valueFrom?.fieldRef?.fieldPath;
        env[e.name] =
          field === 'metadata.namespace'
            ? release
            : field === 'metadata.name'
              ? podName
              : (e.value ?? '');
      }
      const kc = await serviceAccountKubeConfig(client, release, `${RELEASE}-operator`);
      const kubeconfig = join(mkdtempSync(join(tmpdir(), 'tessera-helm-sa-')), 'kubeconfig');
      writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o600 });
      operator = await startOperator({
        watchNamespace: models,
        env: { ...env, TESSERA_OPERATOR_KUBECONFIG: kubeconfig },
      });

      // The sample, unchanged but for its namespace and a storageUri this machine can reach.
      const sample = parse(
        readFileSync(join(REPO_ROOT, 'crds/samples/inferenceservice-sklearn-iris.yaml'), 'utf8'),
      ) as KubeObject & { spec: { predictor: { model: { storageUri: string } } } };
      sample.metadata = { ...sample.metadata, namespace: models };
      sample.spec.predictor.model.storageUri = `${storage.url}/iris/model.onnx`;
      const isvcs = `/apis/serving.tessera.io/v1alpha1/namespaces/${models}/inferenceservices`;
      await client.request('POST', isvcs, { body: sample });
      const ready = await waitForObject(
        client,
        isvcs,
        NAME,
        'Ready',
        (o) =>
          (
            o?.['status'] as { conditions?: { type: string; status: string }[] } | undefined
          )?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
        { timeoutMs: 240_000, diagnostics },
      );
      const status = ready?.['status'] as
        { runtimeName?: string; runtimeKind?: string } | undefined;
      assert.deepEqual(
        [status?.runtimeKind, status?.runtimeName],
        ['ServingRuntime', 'tessera-sklearn'],
        'the chart runtime serves it',
      );
      const [pod] = await waitForObjects(
        client,
        `/api/v1/namespaces/${models}/pods`,
        'a ready server pod',
        (pods) => {
          const readyPods = (pods as Pod[]).filter(podReady);
          return readyPods.length > 0 ? readyPods : undefined;
        },
        { diagnostics },
      );
      assert.ok(pod);
      const res = await fetch(
        `http://${pod.status?.podIP ?? ''}:${SERVER_PORTS.http}/v2/models/${NAME}/infer`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] },
            ],
          }),
        },
      );
      assert.equal(res.status, 200, await res.clone().text());
      const answer = (await res.json()) as { outputs: { name: string; data: number[] }[] };
      assert.ok(answer.outputs.length > 0);

      // Uninstall: the model first (it is the user's), then the release; nothing of it remains.
      await client.request('DELETE', `${isvcs}/${NAME}`);
      await waitForObject(client, isvcs, NAME, 'deleted', (o) => o === undefined, { diagnostics });
      await operator.stop();
      operator = undefined;
      ok(await helm('uninstall', RELEASE, '--namespace', release, '--wait'), 'helm uninstall');
      for (const o of manifest) {
        await assert.rejects(
          client.request('GET', pathOf(o)),
          (err) => isNotFound(err),
          `${String(o.kind)} ${String(o.metadata?.name)} is gone`,
        );
      }
      const secrets = await client.request<{ items: KubeObject[] }>(
        'GET',
        `/api/v1/namespaces/${release}/secrets`,
        {
          query: { labelSelector: 'owner=helm' },
        },
      );
      assert.deepEqual(
        secrets.items.map((s) => s.metadata?.name),
        [],
        'no Helm release record is left',
      );
    });
  },
);
