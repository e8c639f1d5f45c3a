// Shared helpers for the operator's integration tests against the real control plane that
// test/peers/kube.peer.mjs starts (TESSERA_TEST_KUBECONFIG).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { pino, type Logger } from 'pino';
import { KubeConfig } from '@kubernetes/client-node';
import { PATCH, type KubeClient, type KubeObject } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import { KubeConfigClient } from '../../../operator/src/kube/kube-config-client.js';
import { kubeConfigFromFile } from '../../../operator/src/kube/kubeconfig.js';
import { loadConfig, type OperatorConfig } from '../../../operator/src/config.js';
import { OperatorMetrics } from '../../../operator/src/observability/metrics.js';
import { Operator } from '../../../operator/src/operator.js';
import type { ReconcileStep } from '../../../operator/src/reconcilers/inference-service/reconciler.js';
import type { Cleanup } from '../../../operator/src/reconcilers/inference-service/finalizer.js';
import type { EventSink } from '../../../operator/src/kube/events.js';

const CRD_DIR = join(import.meta.dirname, '../../../crds');

/** The kubeconfig path of the test control plane, or a clear error. */
export function kubeconfigPath(): string {
  const path = process.env['TESSERA_TEST_KUBECONFIG'];
  if (path === undefined || path === '') {
    throw new Error(
      'TESSERA_TEST_KUBECONFIG is not set: run integration tests through `node scripts/run-tests.mjs integration`, which starts the control plane (test/peers/kube.peer.mjs)',
    );
  }
  return path;
}

/**
 * The test control plane's cluster (server, CA) with a bound token of `serviceAccount` as the
 * user: what the kubelet mounts into a pod running as that account.
 */
export async function serviceAccountKubeConfig(
  admin: KubeClient,
  namespace: string,
  serviceAccount: string,
): Promise<KubeConfig> {
  const review = await admin.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    },
  );
  const cluster = kubeConfigFromFile(kubeconfigPath()).getCurrentCluster();
  if (cluster === null) throw new Error('the test kubeconfig has no cluster');
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(cluster, { name: serviceAccount, token: review.status.token });
  return kc;
}

/** A client for the test control plane; every request is counted by method in `requests`. */
export function testClient(): KubeConfigClient & { requests: Map<string, number> } {
  const client = new KubeConfigClient(kubeConfigFromFile(kubeconfigPath())) as KubeConfigClient & {
    requests: Map<string, number>;
  };
  client.requests = new Map();
  client.observe((method) => client.requests.set(method, (client.requests.get(method) ?? 0) + 1));
  return client;
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const suffix =
    lastError === undefined
      ? ''
      : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
}

/** Installs (server-side applies) the CRDs from crds/ and waits until they are Established. */
export async function installCrds(client: KubeClient): Promise<void> {
  const files = readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml'));
  for (const file of files) {
    const crd = parse(readFileSync(join(CRD_DIR, file), 'utf8')) as KubeObject;
    const name = crd.metadata?.name ?? '';
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    await client.request('PATCH', path, {
      query: { fieldManager: 'tessera-tests', force: true },
      body: crd,
      contentType: PATCH.apply,
    });
    await waitFor(`CRD ${name} Established`, async () => {
      const live = await client.request<{
        status?: { conditions?: { type: string; status: string }[] };
      }>('GET', path);
      return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
}

/** Creates a namespace with a random suffix; delete it with {@link deleteNamespace}. */
export async function createNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  return name;
}

/** Deletes a namespace (kube-controller-manager's namespace controller finishes it). */
export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  await client.request('DELETE', `/api/v1/namespaces/${name}`).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

/** A quiet logger for in-process operators (set TESSERA_TEST_LOG=debug to see reconciles). */
export function testLogger(): Logger {
  return pino({ level: process.env['TESSERA_TEST_LOG'] ?? 'silent' });
}

/** Operator configuration for tests: watch one namespace, short resync, no leader election. */
export function testConfig(namespace: string, extra: Record<string, string> = {}): OperatorConfig {
  return loadConfig({
    TESSERA_OPERATOR_KUBECONFIG: kubeconfigPath(),
    TESSERA_OPERATOR_WATCH_NAMESPACE: namespace,
    TESSERA_OPERATOR_LEADER_ELECT: 'false',
    TESSERA_OPERATOR_RESYNC_SECONDS: '2',
    TESSERA_OPERATOR_WORKERS: '4',
    ...extra,
  });
}

/** An operator running in this process against the test control plane. */
export interface RunningOperator {
  readonly operator: Operator;
  readonly metrics: OperatorMetrics;
  readonly client: KubeConfigClient;
  /** Method and path of every write (non-GET request) this operator sent. */
  readonly writes: string[];
  stop(): Promise<void>;
}

/** Reconciles the operator's InferenceService controller has finished so far. */
export async function isvcReconciles(op: RunningOperator): Promise<number> {
  const { values } = await op.metrics.reconcileTotal.get();
  return values
    .filter((v) => v.labels.controller === 'inferenceservice')
    .reduce((n, v) => n + v.value, 0);
}

/**
 * Waits until the InferenceService controller has finished at least `more` further reconciles
 * and has nothing queued or running: an observable point after which a negative assertion
 * ("nothing else was written") means something, with no fixed sleep.
 */
export async function settled(op: RunningOperator, more = 1, timeoutMs = 60_000): Promise<void> {
  const start = await isvcReconciles(op);
  await waitFor(
    `${String(more)} more reconciles and an idle queue`,
    async () => (await isvcReconciles(op)) - start >= more && op.operator.controller.queue.idle(),
    timeoutMs,
  );
}

/** Starts an operator in-process and waits for its caches to sync. */
export async function startOperator(
  config: OperatorConfig,
  afterStep?: (step: ReconcileStep, key: string) => void | Promise<void>,
  cleanups?: readonly Cleanup[],
  events?: (client: KubeConfigClient) => EventSink,
): Promise<RunningOperator> {
  const client = new KubeConfigClient(kubeConfigFromFile(kubeconfigPath()));
  const metrics = new OperatorMetrics();
  const writes: string[] = [];
  client.observe((method, path, code) => {
    metrics.kubeRequests.inc({ method, code: String(code) });
    if (method !== 'GET') writes.push(`${method} ${path}`);
  });
  const operator = new Operator({
    config,
    client,
    logger: testLogger(),
    metrics,
    afterStep,
    cleanups,
    ...(events === undefined ? {} : { events: events(client) }),
  });
  await operator.start();
  return {
    operator,
    metrics,
    client,
    writes,
    stop: async () => {
      await operator.stop();
      client.close();
    },
  };
}

/** A ClusterServingRuntime-like runtime body (namespaced when `namespace` is given). */
export function runtimeBody(
  name: string,
  format: string,
  opts: { namespace?: string; priority?: number; autoSelect?: boolean; image?: string } = {},
): KubeObject {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: opts.namespace === undefined ? 'ClusterServingRuntime' : 'ServingRuntime',
    metadata: opts.namespace === undefined ? { name } : { name, namespace: opts.namespace },
    spec: {
      protocolVersions: ['v2', 'grpc-v2'],
      supportedModelFormats: [
        {
          name: format,
          autoSelect: opts.autoSelect ?? true,
          ...(opts.priority === undefined ? {} : { priority: opts.priority }),
        },
      ],
      containers: [
        {
          name: 'kserve-container',
          ...(opts.image === undefined ? {} : { image: opts.image }),
          args: ['start', '/mnt/models'],
        },
      ],
    },
  };
}

/** An InferenceService body. */
export function isvcBody(
  namespace: string,
  name: string,
  predictor: Record<string, unknown> = {},
  format = 'onnx',
): KubeObject {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'InferenceService',
    metadata: { name, namespace },
    spec: {
      predictor: {
        model: { modelFormat: { name: format }, storageUri: `s3://models/${name}/` },
        ...predictor,
      },
    },
  };
}

/** POSTs an object to its collection. */
export async function create(
  client: KubeClient,
  collectionPath: string,
  body: KubeObject,
): Promise<KubeObject> {
  return client.request<KubeObject>('POST', collectionPath, { body });
}

/** Collection paths used by the tests. */
export const paths = {
  isvcs: (ns: string) => `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices`,
  isvc: (ns: string, name: string) =>
    `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/inferenceservices/${name}`,
  runtimes: (ns: string) => `/apis/serving.tessera.io/v1alpha1/namespaces/${ns}/servingruntimes`,
  clusterRuntimes: () => `/apis/serving.tessera.io/v1alpha1/clusterservingruntimes`,
  deployments: (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  deployment: (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`,
  services: (ns: string) => `/api/v1/namespaces/${ns}/services`,
  service: (ns: string, name: string) => `/api/v1/namespaces/${ns}/services/${name}`,
  hpas: (ns: string) => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`,
  hpa: (ns: string, name: string) =>
    `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${name}`,
};

/** The condition of `type` on an object's status, if any. */
export function condition(
  obj: KubeObject,
  type: string,
): { status: string; reason: string; message: string; observedGeneration?: number } | undefined {
  const conditions = (
    obj['status'] as
      | {
          conditions?: {
            type: string;
            status: string;
            reason: string;
            message: string;
            observedGeneration?: number;
          }[];
        }
      | undefined
  )?.conditions;
  return conditions?.find((c) => c.type === type);
}

/**
 * Marks a Deployment available by writing its status subresource, as the Deployment controller
 * would once kubelets report ready pods (no kubelet runs in the test control plane).
 */
export async function markDeploymentAvailable(
  client: KubeClient,
  ns: string,
  name: string,
  replicas = 1,
): Promise<void> {
  const live = await client.request<KubeObject>('GET', paths.deployment(ns, name));
  await client.request('PATCH', `${paths.deployment(ns, name)}/status`, {
    contentType: PATCH.merge,
    body: {
      status: {
        observedGeneration: live.metadata?.generation,
        replicas,
        updatedReplicas: replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        conditions: [
          {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
            lastUpdateTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
            lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          },
        ],
      },
    },
  });
}
