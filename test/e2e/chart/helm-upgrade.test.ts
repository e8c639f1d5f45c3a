// `helm upgrade` under load loses no request. charts/tessera is installed with its operator
// Deployment (two replicas, leader election) run as pods by the process kubelet; a model serves
// from two server pods behind its Service; a closed-loop load runs through the Service (each
// client picks among the ready endpoints its pod watch has delivered, as kube-proxy follows
// EndpointSlices); `helm upgrade` changes the server image tag, which rolls the operator pods
// and then, through the new operator, the server pods. The load must see no failed request and
// answers from both the old and the new server pods.
//
// Assumption (README, "Network"): there is no kube-proxy here. A client's endpoint list changes
// only when its pod watch delivers the change, and then only after PROPAGATION_DELAY_MS, which
// stands for kube-proxy programming the node. The watch alone is nearly as fast as the kubelet's
// own (which sends SIGTERM), so without that lag a server that closed at once would rarely be
// caught; with it, a terminating pod must keep answering for longer than the lag (the server's
// shutdown delay, 10 s by default) or requests fail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SERVER_PORTS } from '@tessera/contract';
import type { KubeClient, KubeObject } from '../../../operator/src/kube/client.js';
import { predictorName, selectorLabels } from '../../../operator/src/manifests/labels.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { CHART, helm, ok } from '../../integration/chart/helm.js';
import {
  createNamespace,
  deleteNamespace,
  serviceAccountKubeConfig,
  podReady,
  testClient,
  waitForObject,
} from '../support/kube.js';
import type { Pod } from '../support/pod-types.js';
import { ProcessKubelet, serverImageRule } from '../support/process-kubelet.js';
import type { ImageRule } from '../support/pod-worker.js';
import { startServiceLoad } from '../support/service-load.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';
import { waitFor } from '../../integration/server/lifecycle-helpers.js';

const RELEASE = 'tessera';
const NAME = 'sklearn-iris';
const SERVICE_ACCOUNT = 'tessera-operator-e2e';
/**
 * kube-proxy's lag between an EndpointSlice change and the node routing by it: its default
 * `--iptables-min-sync-period` is 1 s; twice that stands for a node that is busy.
 */
const PROPAGATION_DELAY_MS = 2000;
const IRIS = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
};
/** The same request as a gRPC ModelInferRequest. */
const IRIS_GRPC = {
  model_name: 'sklearn-iris',
  inputs: [
    {
      name: 'input',
      datatype: 'FP32',
      shape: [1, 4],
      contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] },
    },
  ],
};

/** Dockerfile.operator: WORKDIR the repository, the chart's command `node operator/dist/main.js`. */
const operatorImageRule: ImageRule = {
  matches: (image) =>
    (image.split('@')[0] ?? '').split(':')[0]?.endsWith('tessera/operator') ?? false,
  entrypoint: [process.execPath, join(REPO_ROOT, 'operator', 'dist', 'main.js')],
  defaultArgs: [],
  workdir: REPO_ROOT,
};

interface DeploymentState extends KubeObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
}

/** A Deployment whose rollout finished: every replica updated and available, none left over. */
function rolledOut(d: DeploymentState | undefined): boolean {
  const want = d?.spec?.replicas ?? 1;
  const s = d?.status;
  return (
    d !== undefined &&
    s?.observedGeneration === d.metadata?.generation &&
    s?.updatedReplicas === want &&
    s.availableReplicas === want &&
    s.replicas === want
  );
}

/** A kubeconfig for the chart's operator ServiceAccount (the pods get no projected token here). */
async function operatorKubeconfigFile(client: KubeClient, namespace: string): Promise<string> {
  await client.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
    body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT } },
  });
  const kc = await serviceAccountKubeConfig(client, namespace, SERVICE_ACCOUNT);
  const file = join(mkdtempSync(join(tmpdir(), 'tessera-helm-upgrade-')), 'kubeconfig');
  writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
  return file;
}

describe('helm upgrade of charts/tessera under load', { timeout: 900_000 }, () => {
  const client = testClient();
  let release: string;
  let models: string;
  let kubelet: ProcessKubelet;
  let storage: StorageServer;
  let valuesFile: string;
  const diagnostics = (): string => kubelet.dumpLogs();

  before(async () => {
    release = await createNamespace(client, 'e2e-upgrade');
    models = await createNamespace(client, 'e2e-upgrade-models');
    storage = await startStorageServer();
    await storage.put('iris/model.onnx', join(REPO_ROOT, 'examples/models/iris/model.onnx'));
    kubelet = await ProcessKubelet.start(client, {
      namespaces: [release, models],
      probeTimeScale: 0.5,
      images: [serverImageRule(), operatorImageRule],
    });
    const kubeconfig = await operatorKubeconfigFile(client, release);
    valuesFile = join(mkdtempSync(join(tmpdir(), 'tessera-helm-values-')), 'values.yaml');
    writeFileSync(
      valuesFile,
      stringify({
        namespaced: true,
        watchNamespaces: [models],
        // The control plane already has the CRDs (kubectl apply -f crds/, as a cluster admin would).
        crds: { install: false },
        serviceAccount: { create: false, name: SERVICE_ACCOUNT },
        operator: {
          extraEnv: [
            // What a cluster gives a pod (a token, the apiserver's address) arrives this way here.
            { name: 'TESSERA_OPERATOR_KUBECONFIG', value: kubeconfig },
            // Each operator pod has its own address; its health and metrics ports listen there.
            {
              name: 'TESSERA_OPERATOR_BIND_ADDRESS',
              valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
            },
          ],
        },
      }),
    );
  });

  after(async () => {
    await kubelet.stop();
    await storage.stop();
    await deleteNamespace(client, models);
    await deleteNamespace(client, release);
    client.close();
  });

  it('rolls the operator and the server pods with zero failed requests', async () => {
    ok(
      await helm('install', RELEASE, CHART, '--namespace', release, '-f', valuesFile),
      'helm install',
    );
    const deployments = `/apis/apps/v1/namespaces/${release}/deployments`;
    await waitForObject<DeploymentState>(
      client,
      deployments,
      `${RELEASE}-operator`,
      'two operator replicas ready',
      (d) => rolledOut(d) && d?.status?.readyReplicas === 2,
      { timeoutMs: 120_000, diagnostics },
    );

    const sample = parse(
      readFileSync(join(REPO_ROOT, 'crds/samples/inferenceservice-sklearn-iris.yaml'), 'utf8'),
    ) as KubeObject & {
      spec: { predictor: { replicas?: number; model: { storageUri: string } } };
    };
    sample.metadata = { ...sample.metadata, namespace: models };
    sample.spec.predictor.model.storageUri = `${storage.url}/iris/model.onnx`;
    sample.spec.predictor.replicas = 2;
    const isvcs = `/apis/serving.tessera.io/v1alpha1/namespaces/${models}/inferenceservices`;
    await client.request('POST', isvcs, { body: sample });
    const servers = `/apis/apps/v1/namespaces/${models}/deployments`;
    const before = await waitForObject<DeploymentState>(
      client,
      servers,
      predictorName(NAME),
      'two server replicas ready',
      (d) => rolledOut(d) && d?.status?.readyReplicas === 2,
      { timeoutMs: 240_000, diagnostics },
    );
    const oldImage = before?.spec?.template?.spec?.containers?.[0]?.image ?? '';
    const labelSelector = Object.entries(selectorLabels(NAME))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const oldPods = (
      await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${models}/pods`, {
        query: { labelSelector },
      })
    ).items
      .filter(podReady)
      .map((p) => p.metadata?.name ?? '');
    assert.equal(oldPods.length, 2, `old pods: ${oldPods.join(', ')}`);
    const operatorPods = async (): Promise<string[]> =>
      (
        await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${release}/pods`, {
          query: {
            labelSelector: `app.kubernetes.io/name=tessera-operator,app.kubernetes.io/instance=${RELEASE}`,
          },
        })
      ).items.map((p) => p.metadata?.name ?? '');
    const oldOperators = await operatorPods();

    const load = await startServiceLoad(client, {
      namespace: models,
      labelSelector,
      port: SERVER_PORTS.http,
      path: `/v2/models/${NAME}/infer`,
      body: IRIS,
      clients: 4,
      maxRequestsPerClient: 200_000,
      propagationDelayMs: PROPAGATION_DELAY_MS,
    });
    // gRPC clients too: one long-lived HTTP/2 channel per pod, drained by the server's GOAWAY.
    const grpcLoad = await startServiceLoad(client, {
      namespace: models,
      labelSelector,
      port: SERVER_PORTS.grpc,
      protocol: 'grpc',
      path: '',
      body: IRIS_GRPC,
      clients: 2,
      maxRequestsPerClient: 200_000,
      propagationDelayMs: PROPAGATION_DELAY_MS,
    });
    const servedBoth = (pod: string): boolean =>
      (load.servedBy().get(pod) ?? 0) > 0 && (grpcLoad.servedBy().get(pod) ?? 0) > 0;
    let report: Awaited<ReturnType<typeof load.stop>> | undefined;
    let grpcReport: Awaited<ReturnType<typeof load.stop>> | undefined;
    try {
      // Both old pods answer before anything changes.
      await waitFor(() => oldPods.every(servedBoth), 'REST and gRPC load on both old pods', 60_000);

      ok(
        await helm(
          'upgrade',
          RELEASE,
          CHART,
          '--namespace',
          release,
          // As the README upgrades: the installed values, one changed.
          '--reuse-values',
          '--set',
          'server.image.tag=0.1.1-e2e',
        ),
        'helm upgrade',
      );
      // The operator's rollout (its env names the new tag), then the server pods' rollout.
      await waitForObject<DeploymentState>(
        client,
        deployments,
        `${RELEASE}-operator`,
        'the operator rolled out',
        (d) =>
          rolledOut(d) &&
          JSON.stringify(d?.spec?.template).includes('0.1.1-e2e') &&
          d?.status?.readyReplicas === 2,
        { timeoutMs: 180_000, diagnostics },
      );
      // The lead moved to a new operator pod (the old ones are gone; leader election handed over).
      const lease = `/apis/coordination.k8s.io/v1/namespaces/${release}/leases`;
      const held = await waitForObject<KubeObject & { spec?: { holderIdentity?: string } }>(
        client,
        lease,
        `${RELEASE}-operator-leader`,
        'held by a new operator pod',
        (l) => {
          const holder = l?.spec?.holderIdentity ?? '';
          return holder !== '' && !oldOperators.includes(holder);
        },
        { timeoutMs: 120_000, diagnostics },
      );
      assert.ok((await operatorPods()).includes(held?.spec?.holderIdentity ?? ''));
      await waitForObject<DeploymentState>(
        client,
        servers,
        predictorName(NAME),
        'the server pods rolled out on the new image',
        (d) =>
          rolledOut(d) &&
          (d?.spec?.template?.spec?.containers?.[0]?.image ?? '').endsWith(':0.1.1-e2e'),
        { timeoutMs: 300_000, diagnostics },
      );
      // Every old pod is gone and every new pod is ready and has answered the load.
      const listPods = async (): Promise<Pod[]> =>
        (
          await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${models}/pods`, {
            query: { labelSelector },
          })
        ).items;
      let newPods: string[] = [];
      await waitFor(
        async () => {
          const pods = await listPods();
          newPods = pods.map((p) => p.metadata?.name ?? '');
          return (
            pods.length === 2 &&
            !newPods.some((n) => oldPods.includes(n)) &&
            pods.every(podReady) &&
            newPods.every(servedBoth)
          );
        },
        'only new pods, each serving the load',
        120_000,
        diagnostics,
      );
      for (const pod of await listPods()) {
        const res = await fetch(
          `http://${pod.status?.podIP ?? ''}:${SERVER_PORTS.http}/v2/models/${NAME}/ready`,
        );
        assert.equal(res.status, 200, `${pod.metadata?.name ?? ''} serves ${NAME}`);
      }
      report = await load.stop();
      grpcReport = await grpcLoad.stop();
      for (const [protocol, r] of [
        ['REST', report],
        ['gRPC', grpcReport],
      ] as const) {
        assert.deepEqual(
          r.failures,
          [],
          `${protocol}: ${r.failures.length} of ${r.ok + r.failures.length} requests failed`,
        );
        assert.ok(r.ok > 0);
        for (const pod of [...oldPods, ...newPods])
          assert.ok((r.servedBy.get(pod) ?? 0) > 0, `${pod} served ${protocol} requests`);
      }
      assert.notEqual(oldImage, '');
      assert.ok(!oldImage.endsWith(':0.1.1-e2e'), `the old pods ran ${oldImage}`);
      console.log(
        `helm upgrade under load: ${report.ok} REST and ${grpcReport.ok} gRPC requests, 0 failed; per pod ${JSON.stringify(
          [...report.servedBy],
        )} / ${JSON.stringify([...grpcReport.servedBy])}`,
      );
    } finally {
      if (report === undefined) await load.stop();
      if (grpcReport === undefined) await grpcLoad.stop();
    }

    await client.request('DELETE', `${isvcs}/${NAME}`);
    await waitForObject(client, isvcs, NAME, 'deleted', (o) => o === undefined, { diagnostics });
    ok(await helm('uninstall', RELEASE, '--namespace', release, '--wait'), 'helm uninstall');
  });
});
