import type { Container, Deployment, EnvVar, PodSpec, Resources } from './types.js';
import type { RuntimeContainer } from '../api/v1alpha1/index.js';
import { type BuildInput, isAutoscaled, SERVER_PORTS } from './input.js';
import { commonLabels, selectorLabels } from './labels.js';
import { childMetadata } from './owner-reference.js';

const MODEL_DIR = '/mnt/models';

/**
 * Restricted Pod Security for every container we generate
 * (kubernetes.io/docs/concepts/security/pod-security-standards, "Restricted").
 */
const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

function modelEnv(input: BuildInput): EnvVar[] {
  const { isvc } = input;
  const model = isvc.spec.predictor.model;
  const env: EnvVar[] = [
    { name: 'TESSERA_SERVER_MODEL_NAME', value: model.name ?? isvc.metadata.name },
    { name: 'TESSERA_SERVER_MODEL_FORMAT', value: model.modelFormat.name },
    { name: 'TESSERA_SERVER_MODEL_DIR', value: MODEL_DIR },
  ];
  // STORAGE_URI is KServe's variable name for the model location; kept for compatibility.
  if (model.storageUri !== undefined) env.push({ name: 'STORAGE_URI', value: model.storageUri });
  return env;
}

/** Runtime env first; the operator's model env wins on a name clash. */
function mergeEnv(runtimeEnv: RuntimeContainer['env'], ours: EnvVar[]): EnvVar[] {
  const taken = new Set(ours.map((e) => e.name));
  const kept = (runtimeEnv ?? []).filter((e) => !taken.has(e.name));
  return [...kept.map((e) => ({ name: e.name, value: e.value ?? '' })), ...ours];
}

/** InferenceService resources override the runtime's, key by key (as KServe merges them). */
function mergeResources(input: BuildInput, container: RuntimeContainer): Resources {
  const base = container.resources ?? {};
  const own = input.isvc.spec.predictor.model.resources ?? {};
  const out: Resources = {};
  const requests = { ...base.requests, ...own.requests };
  const limits = { ...base.limits, ...own.limits };
  if (Object.keys(requests).length > 0) out.requests = stringify(requests);
  if (Object.keys(limits).length > 0) out.limits = stringify(limits);
  return out;
}

function stringify(values: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

function serverContainer(input: BuildInput, template: RuntimeContainer): Container {
  const container: Container = {
    name: template.name,
    image: template.image ?? input.config.serverImage,
    env: mergeEnv(template.env, modelEnv(input)),
    ports: [
      { name: 'http', containerPort: SERVER_PORTS.http, protocol: 'TCP' },
      { name: 'grpc', containerPort: SERVER_PORTS.grpc, protocol: 'TCP' },
      { name: 'metrics', containerPort: SERVER_PORTS.metrics, protocol: 'TCP' },
    ],
    // Readiness means "models loaded" (OIP server ready); liveness only "process alive".
    readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 5 },
    livenessProbe: {
      httpGet: { path: '/v2/health/live', port: 'http' },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    resources: mergeResources(input, template),
    securityContext: { ...CONTAINER_SECURITY, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'model-dir', mountPath: MODEL_DIR },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
  if (template.command !== undefined) container.command = template.command;
  if (template.args !== undefined) container.args = template.args;
  return container;
}

function sidecarContainer(input: BuildInput, template: RuntimeContainer): Container {
  const container: Container = {
    name: template.name,
    image: template.image ?? input.config.serverImage,
    env: mergeEnv(template.env, []),
    securityContext: { ...CONTAINER_SECURITY, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
  if (template.command !== undefined) container.command = template.command;
  if (template.args !== undefined) container.args = template.args;
  if (template.resources !== undefined) container.resources = mergeResources(input, template);
  return container;
}

function podSpec(input: BuildInput): PodSpec {
  const [main, ...sidecars] = input.runtime.spec.containers;
  if (main === undefined) throw new Error('runtime has no containers (the CRD requires one)');
  return {
    // Model servers never call the Kubernetes API: no token in the pod.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [serverContainer(input, main), ...sidecars.map((c) => sidecarContainer(input, c))],
    volumes: [
      { name: 'model-dir', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ],
  };
}

/**
 * The predictor Deployment. When an HPA runs, `spec.replicas` is omitted so server-side apply
 * never fights the autoscaler for that field (conventions 4.3 rule 6).
 */
export function buildDeployment(input: BuildInput): Deployment {
  const { isvc } = input;
  const name = isvc.metadata.name;
  const predictor = isvc.spec.predictor;
  const deployment: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(isvc),
    spec: {
      selector: { matchLabels: selectorLabels(name) },
      template: { metadata: { labels: commonLabels(name) }, spec: podSpec(input) },
    },
  };
  if (!isAutoscaled(isvc) && deployment.spec !== undefined) {
    deployment.spec.replicas = predictor.replicas ?? predictor.minReplicas ?? 1;
  }
  return deployment;
}
