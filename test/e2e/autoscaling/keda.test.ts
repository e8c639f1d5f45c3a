// Autoscaling end to end with real parts: an InferenceService with KServe's
// `serving.kserve.io/autoscalerClass: keda` → the operator writes a KEDA ScaledObject → KEDA's
// operator makes the HPA and its metrics adapter serves external.metrics.k8s.io (through the
// apiserver's aggregation layer) from a Prometheus query → Prometheus scrapes the server pods'
// per-model request counter → kube-controller-manager's HPA controller scales the Deployment.
// Load through the Service raises the request rate: the Deployment scales out, each new pod
// counts as ready only once its model serves, no request fails, and it scales back in when the
// load stops. The README's "Autoscale it" manifest and its `kubectl get scaledobject,hpa` are
// what the test applies and runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { Informer } from '../../../operator/src/controller/informer.js';
import { AUTOSCALER_CLASS_ANNOTATION } from '../../../operator/src/api/v1alpha1/index.js';
import { predictorName, selectorLabels } from '../../../operator/src/manifests/index.js';
import { testLogger } from '../../integration/operator/cluster.js';
import { kubectl, ok } from '../../integration/chart/helm.js';
import { waitFor } from '../../integration/server/lifecycle-helpers.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  podReady,
  testClient,
  waitForObject,
} from '../support/kube.js';
import { startKeda, type Keda } from '../support/keda.js';
import {
  FAST_MODEL_RETRIES,
  startOperator,
  type OperatorProcess,
} from '../support/operator-process.js';
import type { Pod } from '../support/pod-types.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import { startPrometheus, type Prometheus } from '../support/prometheus.js';
import { startServiceLoad } from '../support/service-load.js';
import { startStorageServer, type StorageServer } from '../support/storage-server.js';

const NAME = 'iris';
const IRIS = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
};
const MAX_REPLICAS = 3;
/**
 * Requests per second per replica the HPA aims at. Four closed-loop clients on the tiny iris model
 * send hundreds per second on any machine, far above 3 × 5, so the scale-out does not depend on
 * the machine's speed; with no load the rate is exactly 0.
 */
const TARGET_RATE = 5;
/** Short enough that the rate falls to 0 soon after the load stops (4+ scrape intervals). */
const RATE_WINDOW = '10s';

/**
 * The InferenceService of the README's "Autoscale it" section, as written apart from what this
 * harness forces: the namespace, a loopback store with no Secret, and a target low enough that
 * the scale-out holds on any machine (see TARGET_RATE).
 */
function readmeManifest(namespace: string, storageUri: string): KubeObject {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Autoscale it');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const yaml = /kubectl apply -f - <<'YAML'\n([\s\S]*?)\nYAML/.exec(section)?.[1];
  assert.ok(yaml !== undefined, "the README's Autoscale section applies an InferenceService");
  const doc = parse(yaml) as KubeObject & {
    spec: {
      predictor: {
        scaleMetric?: string;
        scaleTarget?: number;
        model: { storageUri: string; storage?: unknown };
      };
    };
  };
  assert.equal(doc.metadata?.name, NAME);
  assert.equal(doc.metadata.annotations?.[AUTOSCALER_CLASS_ANNOTATION], 'keda');
  assert.equal(doc.spec.predictor.scaleMetric, 'requestRate');
  doc.metadata.namespace = namespace;
  doc.spec.predictor.scaleTarget = TARGET_RATE;
  doc.spec.predictor.model.storageUri = storageUri;
  delete doc.spec.predictor.model.storage;
  return doc;
}

interface DeploymentState extends KubeObject {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number };
}

interface HpaState extends KubeObject {
  spec?: {
    minReplicas?: number;
    maxReplicas?: number;
    scaleTargetRef?: { kind?: string; name?: string };
    metrics?: { type?: string; external?: { metric?: { name?: string } } }[];
  };
  status?: { desiredReplicas?: number };
}

describe(
  'autoscaling end to end: KEDA, Prometheus and the HPA controller',
  { timeout: 900_000 },
  () => {
    const client = testClient();
    let ns: string;
    let kedaNs: string;
    let storage: StorageServer;
    let kubelet: ProcessKubelet;
    let prometheus: Prometheus;
    let keda: Keda;
    let operator: OperatorProcess;
    const deployments = (): string => `/apis/apps/v1/namespaces/${ns}/deployments`;
    const diagnostics = (): string =>
      `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}\n${keda.logs()}`;

    before(async () => {
      ns = await createNamespace(client, 'e2e-scale');
      kedaNs = await createNamespace(client, 'e2e-keda');
      storage = await startStorageServer();
      await storage.put('iris/model.onnx', join(REPO_ROOT, 'examples/models/iris/model.onnx'));
      kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
      prometheus = await startPrometheus(client, { namespace: ns, scrapeSeconds: 1 });
      keda = await startKeda(client, { namespace: kedaNs, watchNamespace: ns });
      operator = await startOperator({
        watchNamespace: ns,
        env: {
          ...FAST_MODEL_RETRIES,
          TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: prometheus.url,
          TESSERA_OPERATOR_KEDA_RATE_WINDOW: RATE_WINDOW,
          // Scale-in terminates pods: keep the drain short (no load is running then).
          TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS: '1',
        },
      });
    });

    after(async () => {
      await operator?.stop();
      await keda?.stop();
      await prometheus?.stop();
      await kubelet?.stop();
      await storage?.stop();
      await deleteNamespace(client, ns);
      await deleteNamespace(client, kedaNs);
      client.close();
    });

    it('scales a model out under load and back in, with no failed request', async (t) => {
      // The chart's default ONNX runtime, as a ServingRuntime of this namespace only.
      const runtime = parse(
        readFileSync(
          join(REPO_ROOT, 'crds/samples/clusterservingruntime-tessera-onnx.yaml'),
          'utf8',
        ),
      ) as KubeObject;
      await client.request(
        'POST',
        `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/servingruntimes`,
        {
          body: {
            ...runtime,
            kind: 'ServingRuntime',
            metadata: { name: runtime.metadata?.name, namespace: ns },
          },
        },
      );
      await client.request(
        'POST',
        `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`,
        { body: readmeManifest(ns, `${storage.url}/iris/model.onnx`) },
      );
      const isvcs = `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`;
      const loaded = (copies: string) =>
        waitForObject(
          client,
          isvcs,
          NAME,
          `Ready with ${copies} copies loaded`,
          (o) => {
            const status = o?.['status'] as
              | {
                  conditions?: { type: string; status: string }[];
                  modelStatus?: { loaded?: string };
                }
              | undefined;
            return (
              status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
              status.modelStatus?.loaded === copies
            );
          },
          { timeoutMs: 180_000, diagnostics },
        );
      await loaded('1/1');

      // What the operator wrote, and the HPA KEDA made from it (External metric, same bounds).
      const scaledObject = await client.request<
        KubeObject & { spec: { triggers: { type: string; metadata: Record<string, string> }[] } }
      >('GET', `/apis/keda.sh/v1alpha1/namespaces/${ns}/scaledobjects/${predictorName(NAME)}`);
      assert.equal(scaledObject.spec.triggers[0]?.type, 'prometheus');
      assert.equal(scaledObject.spec.triggers[0]?.metadata['serverAddress'], prometheus.url);
      const hpa = await waitForObject<HpaState>(
        client,
        `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
        `keda-hpa-${predictorName(NAME)}`,
        "KEDA's HPA",
        (o) => o !== undefined,
        { timeoutMs: 60_000, diagnostics },
      );
      assert.equal(hpa?.spec?.scaleTargetRef?.name, predictorName(NAME));
      assert.equal(hpa?.spec?.minReplicas, 1);
      assert.equal(hpa?.spec?.maxReplicas, MAX_REPLICAS);
      assert.equal(hpa?.spec?.metrics?.[0]?.type, 'External');
      // The Deployment leaves replicas to the HPA: the operator never resets them.
      const deployment = await client.request<DeploymentState>(
        'GET',
        `${deployments()}/${predictorName(NAME)}`,
      );
      assert.equal(deployment.spec?.replicas, 1);
      const query = String(scaledObject.spec.triggers[0]?.metadata['query']);
      // The README's check, as written (in this namespace): both objects are listed.
      const listed = ok(
        await kubectl(['get', 'scaledobject,hpa', '--namespace', ns]),
        'kubectl get scaledobject,hpa',
      ).stdout;
      assert.match(listed, new RegExp(`scaledobject\\.keda\\.sh/${predictorName(NAME)}\\s`));
      assert.match(
        listed,
        new RegExp(`horizontalpodautoscaler\\.autoscaling/keda-hpa-${predictorName(NAME)}\\s`),
      );

      // Every pod that turns Ready is asked at once whether its model serves.
      const readyChecks = new Map<string, number>();
      const wasReady = new Set<string>();
      const pods = new Informer(client, {
        path: `/api/v1/namespaces/${ns}/pods`,
        resyncMs: 0,
        backoffBaseMs: 100,
        backoffMaxMs: 1000,
        logger: testLogger(),
        onEvent: (_t, obj) => {
          const pod = obj as Pod;
          const name = pod.metadata?.name ?? '';
          if (!podReady(pod) || wasReady.has(name)) return;
          wasReady.add(name);
          void fetch(
            `http://${pod.status?.podIP ?? ''}:${SERVER_PORTS.http}/v2/models/${NAME}/ready`,
            {
              signal: AbortSignal.timeout(5_000),
            },
          ).then(
            (res) => readyChecks.set(name, res.status),
            () => readyChecks.set(name, -1),
          );
        },
      });
      pods.start();
      await pods.waitForSync();

      const labelSelector = Object.entries(selectorLabels(NAME))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const load = await startServiceLoad(client, {
        namespace: ns,
        labelSelector,
        port: SERVER_PORTS.http,
        path: `/v2/models/${NAME}/infer`,
        body: IRIS,
        clients: 4,
        maxRequestsPerClient: 500_000,
        propagationDelayMs: 1000,
      });
      let report: Awaited<ReturnType<typeof load.stop>> | undefined;
      try {
        // Prometheus sees the load (the series KEDA's query reads)…
        await waitFor(
          async () => ((await prometheus.query(query)) ?? 0) > MAX_REPLICAS * TARGET_RATE,
          `Prometheus reading more than ${String(MAX_REPLICAS * TARGET_RATE)} requests/s`,
          120_000,
          diagnostics,
        );
        const loadStarted = Date.now();
        // …the HPA scales the Deployment out to its maximum, and every replica serves the load.
        await waitForObject<DeploymentState>(
          client,
          deployments(),
          predictorName(NAME),
          `scaled out to ${String(MAX_REPLICAS)} ready replicas`,
          (d) => d?.status?.readyReplicas === MAX_REPLICAS,
          { timeoutMs: 240_000, diagnostics },
        );
        t.diagnostic(
          `scaled out to ${String(MAX_REPLICAS)} ready replicas ${String(Math.round((Date.now() - loadStarted) / 1000))} s after Prometheus saw the load`,
        );
        await loaded(`${String(MAX_REPLICAS)}/${String(MAX_REPLICAS)}`);
        await waitFor(
          // A share of the load on each new pod, not a stray request.
          () => [...load.servedBy().values()].filter((n) => n >= 100).length === MAX_REPLICAS,
          'load served by every replica (100 requests each)',
          60_000,
          diagnostics,
        );
      } finally {
        report = await load.stop();
      }
      const loadStopped = Date.now();
      assert.deepEqual(
        report.failures.slice(0, 20),
        [],
        `${String(report.failures.length)} failed requests`,
      );
      assert.ok(report.ok > 0);
      t.diagnostic(
        `${String(report.ok)} requests, 0 failed; served per pod: ${JSON.stringify(Object.fromEntries(report.servedBy))}`,
      );
      // Each new pod's model answered ready at the moment the pod first counted as ready.
      await waitFor(() => readyChecks.size === wasReady.size, 'ready checks answered', 10_000);
      assert.ok(wasReady.size >= MAX_REPLICAS, `pods seen ready: ${[...wasReady].join(', ')}`);
      for (const [pod, status] of readyChecks)
        assert.equal(status, 200, `${pod} ready before its model`);

      // No load: the rate falls to 0 and the HPA scales back in to minReplicas.
      await waitForObject<DeploymentState>(
        client,
        deployments(),
        predictorName(NAME),
        'scaled back in to 1 replica',
        (d) => d?.spec?.replicas === 1 && d.status?.replicas === 1 && d.status.readyReplicas === 1,
        { timeoutMs: 240_000, diagnostics },
      );
      await loaded('1/1');
      t.diagnostic(
        `scaled back in to 1 replica ${String(Math.round((Date.now() - loadStopped) / 1000))} s after the load stopped`,
      );
      await pods.stop();
    });
  },
);
