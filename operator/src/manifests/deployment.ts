import {
  ADMIN_HOST,
  ADMIN_PORT,
  AGENT_ARGS,
  AGENT_PORT,
  CONTAINER_NAMES,
  CREDENTIALS_DIR,
  ENV,
  MODEL_DIR,
  PROBE_PATHS,
  SERVER_PORTS,
  SERVER_SHUTDOWN_TIMEOUT_SECONDS,
  STORAGE_CONFIG_DIR,
  STORAGE_CONFIG_SECRET,
  adminUrl,
} from '@tessera/contract';
import type { Container, Deployment, EnvVar, PodSpec, Resources, Volume } from './types.js';
import type {
  ModelEnvVar,
  ModelSpec,
  PredictorSpec,
  RuntimeContainer,
  ServingRuntime,
} from '../api/v1alpha1/index.js';
import {
  type BuildInput,
  type ManifestConfig,
  DEFAULT_MODEL_VOLUME_SIZE_LIMIT,
  DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS,
  replicasOwnedByAutoscaler,
  servedModelName,
} from './input.js';
import { commonLabels, selectorLabels } from './labels.js';
import { childMetadata } from './owner-reference.js';
import { fillPlaceholders, type PlaceholderMeta } from './placeholders.js';

/**
 * Restricted Pod Security for every container we generate
 * (kubernetes.io/docs/concepts/security/pod-security-standards, "Restricted").
 */
function containerSecurity(): NonNullable<Container['securityContext']> {
  // A fresh object per container: shared references would become YAML anchors in output.
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * A runtime container's securityContext under Tessera's hardening: what "restricted" allows
 * is kept (a non-root runAsUser such as Triton's 1000, runAsGroup, NET_BIND_SERVICE, a
 * Localhost seccomp profile); the hardening always wins. What restricted forbids never gets
 * here: the runtime is refused first (reconcilers/runtime-check.ts).
 */
function runtimeSecurity(template: RuntimeContainer): NonNullable<Container['securityContext']> {
  const own = (template.securityContext ?? {}) as NonNullable<Container['securityContext']>;
  const ours = containerSecurity();
  const out: NonNullable<Container['securityContext']> = { ...structuredClone(own), ...ours };
  const add = own.capabilities?.add;
  if (add !== undefined && add.length > 0) out.capabilities = { drop: ['ALL'], add: [...add] };
  if (own.seccompProfile?.type === 'Localhost')
    out.seccompProfile = structuredClone(own.seccompProfile);
  return out;
}

/**
 * The server's side of the pod contract: it must report ready only once the InferenceService's
 * model is READY, it loads nothing by itself (the agent drives loads through the repository
 * API), and that API listens on loopback only, never on the ports the Service exposes.
 */
function serverEnv(input: PodInput): EnvVar[] {
  return [
    { name: ENV.requiredModels, value: JSON.stringify(input.requiredModels) },
    { name: ENV.loadModelsAtStartup, value: 'false' },
    { name: ENV.shutdownDelaySeconds, value: String(shutdownDelay(input.config)) },
    { name: ENV.adminHost, value: ADMIN_HOST },
    { name: ENV.adminPort, value: String(ADMIN_PORT) },
  ];
}

function shutdownDelay(config: ManifestConfig): number {
  return config.serverShutdownDelaySeconds ?? DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS;
}

/**
 * The pod's grace period: the server's shutdown delay, then its own shutdown bound, plus a
 * margin, so the kubelet's SIGKILL never cuts a drain short (the default 30 s would, once the
 * delay is added).
 */
function terminationGracePeriod(config: ManifestConfig): number {
  return shutdownDelay(config) + SERVER_SHUTDOWN_TIMEOUT_SECONDS + 5;
}

/** Where the agent finds the extra CA bundle (a ConfigMap's `ca.crt`). */
export const CA_BUNDLE_DIR = '/etc/tessera/ca';

/** The agent's side: where the server's repository API and the shared volume are. */
function agentEnv(config: ManifestConfig): EnvVar[] {
  const env: EnvVar[] = [
    { name: ENV.agentPort, value: String(AGENT_PORT) },
    { name: ENV.agentServerUrl, value: adminUrl() },
    { name: ENV.agentModelDir, value: MODEL_DIR },
    { name: ENV.agentCredentialsDir, value: CREDENTIALS_DIR },
    { name: ENV.agentStorageConfigDir, value: STORAGE_CONFIG_DIR },
  ];
  const proxy = config.agentProxy;
  const proxyEnv: [string, string | undefined][] = [
    ['HTTP_PROXY', proxy?.httpProxy],
    ['HTTPS_PROXY', proxy?.httpsProxy],
    ['NO_PROXY', proxy?.noProxy],
  ];
  const set = proxyEnv.filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
  if (set.some(([name]) => name !== 'NO_PROXY')) {
    // Node's http, https and fetch honour *_PROXY only when asked (Node 24 "NODE_USE_ENV_PROXY").
    env.push({ name: 'NODE_USE_ENV_PROXY', value: '1' });
    for (const [name, value] of set) env.push({ name, value });
  }
  if (config.caBundleConfigMap !== undefined && config.caBundleConfigMap !== '') {
    // Added to, not replacing, Node's bundled CAs (nodejs.org/api/cli.html#node_extra_ca_certsfile).
    env.push({ name: 'NODE_EXTRA_CA_CERTS', value: `${CA_BUNDLE_DIR}/ca.crt` });
  }
  return env;
}

/**
 * Runtime env first, then the InferenceService's `model.env` (which overrides the runtime's, as
 * KServe merges them); the operator's pod-contract env wins on any clash (the normaliser
 * already refuses model env that names it).
 */
function mergeEnv(
  runtimeEnv: RuntimeContainer['env'],
  ours: EnvVar[],
  modelEnv: readonly ModelEnvVar[] = [],
): EnvVar[] {
  const taken = new Set(ours.map((e) => e.name));
  const own = modelEnv.filter((e) => !taken.has(e.name));
  const ownNames = new Set(own.map((e) => e.name));
  const kept = (runtimeEnv ?? []).filter((e) => !taken.has(e.name) && !ownNames.has(e.name));
  return [...kept.map(envVar), ...own.map(envVar), ...ours];
}

/** A copy of an env var: its value, or its valueFrom (a field, a Secret or ConfigMap key...). */
function envVar(e: ModelEnvVar): EnvVar {
  const v: EnvVar = { name: e.name };
  if (e.valueFrom !== undefined) v.valueFrom = structuredClone(e.valueFrom);
  else v.value = e.value ?? '';
  return v;
}

/**
 * KServe's `runtimeVersion` replaces the runtime image's tag (or digest), e.g.
 * `tessera/server:0.1.0` with runtimeVersion `0.2.0` becomes `tessera/server:0.2.0`.
 */
export function withRuntimeVersion(image: string, version: string | undefined): string {
  if (version === undefined) return image;
  const at = image.indexOf('@');
  const base = at >= 0 ? image.slice(0, at) : image;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  const repo = colon > slash ? base.slice(0, colon) : base;
  return `${repo}:${version}`;
}

/**
 * What a container gets when neither the runtime nor the InferenceService sizes it, so no pod
 * the operator creates is unbounded (a LimitRange-free namespace would otherwise admit it as
 * BestEffort). Only applied when nothing is set: a default limit next to a user's larger request
 * would make the pod invalid (request > limit).
 */
export const DEFAULT_RESOURCES = {
  server: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } },
  agent: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
  sidecar: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
} as const;

/** InferenceService resources override the runtime's, key by key (as KServe merges them). */
function mergeResources(
  input: PodInput,
  container: RuntimeContainer,
  fallback: (typeof DEFAULT_RESOURCES)[keyof typeof DEFAULT_RESOURCES],
): Resources {
  const base = container.resources ?? {};
  const own = input.modelResources ?? {};
  const out: Resources = {};
  const requests = { ...base.requests, ...own.requests };
  const limits = { ...base.limits, ...own.limits };
  if (Object.keys(requests).length === 0 && Object.keys(limits).length === 0)
    return { requests: { ...fallback.requests }, limits: { ...fallback.limits } };
  if (Object.keys(requests).length > 0) out.requests = stringify(requests);
  if (Object.keys(limits).length > 0) out.limits = stringify(limits);
  return out;
}

function stringify(values: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

/**
 * Fields of a runtime container that the builders set themselves; every other core/v1
 * Container field (imagePullPolicy, workingDir, envFrom, lifecycle, startupProbe, ...) is
 * carried as the runtime writes it.
 */
const BUILT_FIELDS = new Set([
  'name',
  'image',
  'command',
  'args',
  'env',
  'ports',
  'resources',
  'securityContext',
  'volumeMounts',
]);

function carried(template: RuntimeContainer): Partial<Container> {
  return structuredClone(
    Object.fromEntries(Object.entries(template).filter(([k]) => !BUILT_FIELDS.has(k))),
  );
}

/** Ours first; the runtime's are added unless they reuse one of our names or paths. */
function mergeMounts(
  ours: NonNullable<Container['volumeMounts']>,
  template: RuntimeContainer,
): NonNullable<Container['volumeMounts']> {
  const names = new Set(ours.map((m) => m.name));
  const paths = new Set(ours.map((m) => m.mountPath));
  const extra = (template.volumeMounts ?? []).filter(
    (m) => !names.has(m.name) && !paths.has(m.mountPath),
  );
  return [...ours, ...(structuredClone(extra) as NonNullable<Container['volumeMounts']>)];
}

/** The pod contract's ports, then the runtime's that name another port and number. */
function mergePorts(template: RuntimeContainer): NonNullable<Container['ports']> {
  const ours: NonNullable<Container['ports']> = [
    { name: 'http', containerPort: SERVER_PORTS.http, protocol: 'TCP' },
    { name: 'grpc', containerPort: SERVER_PORTS.grpc, protocol: 'TCP' },
    { name: 'metrics', containerPort: SERVER_PORTS.metrics, protocol: 'TCP' },
  ];
  const taken = new Set<string | number>(
    ours.flatMap((p) => [p.name ?? '', p.containerPort, AGENT_PORT, 'agent']),
  );
  const extra = (template.ports ?? []).filter(
    (p) => !taken.has(p.containerPort) && (p.name === undefined || !taken.has(p.name)),
  );
  return [...ours, ...(structuredClone(extra) as NonNullable<Container['ports']>)];
}

function serverContainer(input: PodInput, template: RuntimeContainer): Container {
  const container: Container = {
    ...carried(template),
    name: template.name,
    image: withRuntimeVersion(
      template.image ?? input.config.serverImage,
      input.model?.runtimeVersion,
    ),
    env: mergeEnv(template.env, serverEnv(input), input.model?.env),
    ports: mergePorts(template),
    // Readiness means "this replica serves its model" (required_models are READY), so the
    // Service never routes to a replica that would answer 404/503; liveness only "process alive".
    // A runtime's own probes replace these (its server, its choice; carried above).
    readinessProbe: template.readinessProbe ?? {
      httpGet: { path: PROBE_PATHS.serverReady, port: 'http' },
      periodSeconds: 5,
    },
    livenessProbe: template.livenessProbe ?? {
      httpGet: { path: PROBE_PATHS.serverLive, port: 'http' },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    resources: mergeResources(input, template, DEFAULT_RESOURCES.server),
    securityContext: runtimeSecurity(template),
    volumeMounts: mergeMounts(
      [
        { name: 'model-dir', mountPath: MODEL_DIR },
        { name: 'tmp', mountPath: '/tmp' },
      ],
      template,
    ),
  };
  if (template.command !== undefined) container.command = template.command;
  // KServe appends the model's args to the runtime container's.
  const args = [...(template.args ?? []), ...(input.model?.args ?? [])];
  if (args.length > 0) container.args = args;
  return container;
}

/**
 * The agent sidecar: `tessera agent` from the operator's server image. It alone mounts the storage
 * credentials (the model's own Secret, and the namespace's storage-config Secret), and it is the
 * only container that writes the model volume.
 */
function agentContainer(input: PodInput): Container {
  const mounts: NonNullable<Container['volumeMounts']> = [
    { name: 'model-dir', mountPath: MODEL_DIR },
    { name: 'agent-tmp', mountPath: '/tmp' },
    { name: 'storage-config', mountPath: STORAGE_CONFIG_DIR, readOnly: true },
  ];
  if (input.storageSecretName !== undefined) {
    mounts.push({ name: 'storage-credentials', mountPath: CREDENTIALS_DIR, readOnly: true });
  }
  if (hasCaBundle(input))
    mounts.push({ name: 'ca-bundle', mountPath: CA_BUNDLE_DIR, readOnly: true });
  return {
    name: CONTAINER_NAMES.agent,
    // The operator's own server image, whatever the runtime's container runs: a KServe runtime
    // names another server's image (kserve-sklearnserver, tritonserver, mlserver), which has no
    // `tessera agent`, and the agent is the operator's side of the pod contract.
    image: input.config.serverImage,
    args: [...AGENT_ARGS],
    env: agentEnv(input.config),
    ports: [{ name: 'agent', containerPort: AGENT_PORT, protocol: 'TCP' }],
    readinessProbe: { httpGet: { path: PROBE_PATHS.agentReady, port: 'agent' }, periodSeconds: 5 },
    livenessProbe: {
      httpGet: { path: PROBE_PATHS.agentLive, port: 'agent' },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    resources: {
      requests: { ...DEFAULT_RESOURCES.agent.requests },
      limits: { ...DEFAULT_RESOURCES.agent.limits },
    },
    securityContext: containerSecurity(),
    volumeMounts: mounts,
  };
}

function volumes(input: PodInput): Volume[] {
  const out: Volume[] = [
    // Every volume is bounded: the kubelet evicts a pod that writes past a sizeLimit instead of
    // letting it fill the node's disk. Only the model volume and the two /tmp are writable.
    {
      name: 'model-dir',
      emptyDir: {
        sizeLimit: input.config.modelVolumeSizeLimit ?? DEFAULT_MODEL_VOLUME_SIZE_LIMIT,
      },
    },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    { name: 'agent-tmp', emptyDir: { sizeLimit: '256Mi' } },
    // Every server pod, pool shard or Dedicated, mounts the one storage-config Secret of its
    // namespace: optional, so pods start without it, and the kubelet re-projects its keys when
    // it changes, so a model with a new `storage.key` never restarts a shard.
    {
      name: 'storage-config',
      secret: { secretName: STORAGE_CONFIG_SECRET, optional: true, defaultMode: 0o440 },
    },
  ];
  const secretName = input.storageSecretName;
  if (secretName !== undefined) {
    out.push({ name: 'storage-credentials', secret: { secretName, defaultMode: 0o440 } });
  }
  const caBundle = input.config.caBundleConfigMap;
  if (caBundle !== undefined && caBundle !== '') {
    out.push({
      name: 'ca-bundle',
      configMap: { name: caBundle, items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 },
    });
  }
  const taken = new Set(out.map((v) => v.name));
  for (const v of input.runtime.spec.volumes ?? [])
    if (!taken.has(v.name)) out.push(boundedVolume(v));
  return out;
}

/**
 * `sizeLimit` of a runtime's emptyDir that names none (KServe's runtimes mount one with
 * medium Memory at /dev/shm), so every emptyDir of the pod stays bounded.
 */
export const RUNTIME_EMPTY_DIR_SIZE_LIMIT = '1Gi';

function boundedVolume(v: NonNullable<ServingRuntime['spec']['volumes']>[number]): Volume {
  const out = structuredClone(v) as Volume;
  if (out.emptyDir !== undefined) out.emptyDir.sizeLimit ??= RUNTIME_EMPTY_DIR_SIZE_LIMIT;
  return out;
}

function hasCaBundle(input: PodInput): boolean {
  return input.config.caBundleConfigMap !== undefined && input.config.caBundleConfigMap !== '';
}

function sidecarContainer(input: PodInput, template: RuntimeContainer): Container {
  const container: Container = {
    ...carried(template),
    name: template.name,
    image: template.image ?? input.config.serverImage,
    env: mergeEnv(template.env, []),
    securityContext: runtimeSecurity(template),
    volumeMounts: mergeMounts([{ name: 'tmp', mountPath: '/tmp' }], template),
  };
  if (template.ports !== undefined) container.ports = structuredClone(template.ports);
  if (template.command !== undefined) container.command = template.command;
  if (template.args !== undefined) container.args = template.args;
  container.resources =
    template.resources !== undefined
      ? mergeResources(input, template, DEFAULT_RESOURCES.sidecar)
      : {
          requests: { ...DEFAULT_RESOURCES.sidecar.requests },
          limits: { ...DEFAULT_RESOURCES.sidecar.limits },
        };
  return container;
}

/** What a server pod is built from, for a Dedicated predictor or a Shared pool shard. */
export interface PodInput {
  readonly runtime: BuildInput['runtime'];
  readonly config: BuildInput['config'];
  /** Models the server must serve before it reports ready ([] for a pool). */
  readonly requiredModels: readonly string[];
  /** A Secret with storage credentials, mounted into the agent only. */
  readonly storageSecretName?: string | undefined;
  /** The InferenceService's resources, overriding the runtime's key by key. */
  readonly modelResources?: NonNullable<
    BuildInput['isvc']['spec']['predictor']['model']['resources']
  >;
  /** The model's container fields (env, args, runtimeVersion); a pool shard has none. */
  readonly model?: Pick<ModelSpec, 'env' | 'args' | 'runtimeVersion'>;
  /** What the runtime's placeholders are filled from: the InferenceService's, or the shard's, metadata. */
  readonly meta: PlaceholderMeta;
  /** The predictor's pod-level fields (KServe's PodSpec); a pool shard has none. */
  readonly pod?: Pick<
    PredictorSpec,
    'serviceAccountName' | 'nodeSelector' | 'tolerations' | 'affinity' | 'imagePullSecrets'
  >;
}

/** Image pull secrets: the operator's (for the server image), the runtime's and the predictor's. */
function pullSecrets(input: PodInput): { name: string }[] {
  const names = [
    ...(input.config.imagePullSecrets ?? []),
    ...(input.runtime.spec.imagePullSecrets ?? []).map((s) => s.name),
    ...(input.pod?.imagePullSecrets ?? []).map((s) => s.name),
  ];
  return [...new Set(names)].map((name) => ({ name }));
}

/**
 * The runtime's and the predictor's scheduling and identity fields. KServe merges the
 * predictor's PodSpec over the runtime's: the predictor wins on each field, and node selector
 * keys merge one by one.
 */
function podFields(input: PodInput): Partial<PodSpec> {
  const rt = input.runtime.spec;
  const pod = input.pod ?? {};
  const out: Partial<PodSpec> = {};
  const serviceAccountName = pod.serviceAccountName ?? rt.serviceAccountName;
  if (serviceAccountName !== undefined) out.serviceAccountName = serviceAccountName;
  if (pod.nodeSelector !== undefined || rt.nodeSelector !== undefined)
    out.nodeSelector = { ...rt.nodeSelector, ...pod.nodeSelector };
  const tolerations = pod.tolerations ?? rt.tolerations;
  if (tolerations !== undefined) out.tolerations = structuredClone(tolerations);
  const affinity = pod.affinity ?? rt.affinity;
  if (affinity !== undefined) out.affinity = structuredClone(affinity);
  if (rt.schedulerName !== undefined) out.schedulerName = rt.schedulerName;
  if (rt.resourceClaims !== undefined)
    out.resourceClaims = structuredClone(rt.resourceClaims) as PodSpec['resourceClaims'];
  return out;
}

/** The pod of a server replica: the runtime's server, the agent, the runtime's sidecars. */
export function podSpec(input: PodInput): PodSpec {
  // KServe fills the placeholders in the runtime's containers from the InferenceService's metadata.
  const [main, ...sidecars] = input.runtime.spec.containers.map((c) =>
    fillPlaceholders(c, input.meta),
  );
  if (main === undefined) throw new Error('runtime has no containers (the CRD requires one)');
  const server = serverContainer(input, main);
  return {
    // Model servers never call the Kubernetes API: no token in the pod.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: terminationGracePeriod(input.config),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...podFields(input),
    ...(pullSecrets(input).length > 0 ? { imagePullSecrets: pullSecrets(input) } : {}),
    containers: [
      server,
      agentContainer(input),
      // A runtime ported from KServe may list KServe's own agent; Tessera's takes its place.
      ...sidecars
        .filter((c) => c.name !== CONTAINER_NAMES.agent)
        .map((c) => sidecarContainer(input, c)),
    ],
    volumes: volumes(input),
  };
}

function podInputOf(input: BuildInput): PodInput {
  const model = input.isvc.spec.predictor.model;
  return {
    runtime: input.runtime,
    config: input.config,
    requiredModels: [servedModelName(input.isvc)],
    storageSecretName: model.storage?.secretName,
    modelResources: model.resources,
    model,
    meta: {
      name: input.isvc.metadata.name,
      namespace: input.isvc.metadata.namespace ?? '',
      labels: input.isvc.metadata.labels,
      annotations: input.isvc.metadata.annotations,
    },
    pod: input.isvc.spec.predictor,
  };
}

/**
 * A rollout never takes a serving replica away before its replacement is ready (counted ready only
 * once its model is loaded); Kubernetes' default 25% unavailable would, from four replicas up.
 */
export const SURGE_FIRST: NonNullable<NonNullable<Deployment['spec']>['strategy']> = {
  type: 'RollingUpdate',
  rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' },
};

/**
 * The predictor Deployment. When an HPA runs, `spec.replicas` is omitted so server-side apply
 * never fights the autoscaler for that field (conventions 4.3 rule 6).
 */
export function buildDeployment(input: BuildInput): Deployment {
  const { isvc } = input;
  const name = isvc.metadata.name;
  const predictor = isvc.spec.predictor;
  // The runtime's, then the predictor's labels and annotations go on the pod (KServe: the
  // predictor's ObjectMeta over the runtime's); ours win, so the selector and the operator's
  // pod index always match.
  const runtime = input.runtime.spec;
  const templateMeta: NonNullable<Deployment['spec']>['template']['metadata'] = {
    labels: { ...runtime.labels, ...predictor.labels, ...commonLabels(name) },
  };
  const annotations = { ...runtime.annotations, ...predictor.annotations };
  if (Object.keys(annotations).length > 0) templateMeta.annotations = annotations;
  const deployment: Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(isvc),
    spec: {
      selector: { matchLabels: selectorLabels(name) },
      template: { metadata: templateMeta, spec: podSpec(podInputOf(input)) },
    },
  };
  if (deployment.spec !== undefined)
    deployment.spec.strategy =
      predictor.deploymentStrategy !== undefined
        ? structuredClone(predictor.deploymentStrategy)
        : structuredClone(SURGE_FIRST);
  if (!replicasOwnedByAutoscaler(isvc) && deployment.spec !== undefined) {
    deployment.spec.replicas = predictor.replicas ?? predictor.minReplicas ?? 1;
  }
  return deployment;
}
