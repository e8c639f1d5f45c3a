import { ENV } from '@tessera/contract';

/**
 * KServe v1beta1 InferenceService shapes, normalised to Tessera's one canonical shape
 * (`spec.predictor.model.modelFormat`) so a KServe manifest ports by changing only its
 * apiVersion. Pure: the same spec gives the same result, nothing is read or written.
 *
 * The CRD preserves unknown fields under `spec`, `spec.predictor` and `spec.predictor.model`,
 * so nothing a KServe user writes is pruned silently: every field this function does not know,
 * and every known field Tessera cannot honour, comes back as a {@link Unsupported} entry that
 * the reconciler turns into a status condition and a Warning Event.
 */

/** Why a KServe feature is refused, as a condition reason (CamelCase, API conventions). */
export type UnsupportedReason =
  | 'TransformerNotSupported'
  | 'ExplainerNotSupported'
  | 'ScaleToZeroNotSupported'
  | 'CustomContainerNotSupported'
  | 'StorageSchemeNotSupported'
  | 'ReservedEnvName'
  | 'PrivilegedNotAllowed'
  | 'ProtocolNotSupported'
  | 'PortNotConfigurable'
  | 'AmbiguousPredictor'
  | 'PodFieldsInSharedMode'
  | 'FieldNotSupported'
  | 'AutoscalerClassNotSupported'
  // A selected runtime asks for what Pod Security "restricted" forbids, or a placeholder
  // Tessera cannot fill (reconcilers/runtime-check.ts).
  | 'VolumeTypeNotAllowed'
  | 'HostNamespaceNotAllowed'
  | 'HostPortNotAllowed'
  | 'InvalidPlaceholder';

/** One thing in the spec Tessera cannot do; `field` is the dotted path under `spec`. */
export interface Unsupported {
  readonly field: string;
  readonly reason: UnsupportedReason;
  readonly message: string;
}

/** The normalised spec (plain JSON, for the zod schema to parse) and what it cannot honour. */
export interface NormalizedSpec {
  readonly spec: Record<string, unknown>;
  readonly unsupported: readonly Unsupported[];
}

/**
 * KServe's legacy `predictor.<framework>` keys and the `modelFormat.name` each becomes
 * (KServe `pkg/apis/serving/v1beta1`: each framework spec converts to a ModelSpec of that name).
 */
export const LEGACY_FRAMEWORKS = {
  sklearn: 'sklearn',
  xgboost: 'xgboost',
  lightgbm: 'lightgbm',
  onnx: 'onnx',
  triton: 'triton',
  tensorflow: 'tensorflow',
  pytorch: 'pytorch',
  pmml: 'pmml',
  paddle: 'paddle',
  huggingface: 'huggingface',
} as const;

/** Predictor fields that shape the pod; a Shared-mode pool shard is not the model's own pod. */
export const POD_FIELDS = [
  'serviceAccountName',
  'nodeSelector',
  'tolerations',
  'affinity',
  'imagePullSecrets',
  'annotations',
  'labels',
  'deploymentStrategy',
] as const;

const PREDICTOR_FIELDS = new Set<string>([
  'model',
  'minReplicas',
  'maxReplicas',
  'replicas',
  'scaleMetric',
  'scaleTarget',
  'containers',
  // Pod's deprecated alias of serviceAccountName, which KServe's predictor inherits (PodSpec).
  'serviceAccount',
  ...POD_FIELDS,
  ...Object.keys(LEGACY_FRAMEWORKS),
]);

const MODEL_FIELDS = new Set<string>([
  'name',
  'modelFormat',
  'storageUri',
  'storage',
  'runtime',
  'protocolVersion',
  'resources',
  'ports',
  'env',
  'args',
  'runtimeVersion',
  'securityContext',
]);

/** Schemes the agent downloads from (agent/src/storage-uri.ts). */
export const SUPPORTED_STORAGE_SCHEMES = ['s3', 'gs', 'pvc', 'file', 'http', 'https'] as const;

/** KServe's scale metric names, mapped to Tessera's per-pod metrics (same meaning). */
const SCALE_METRIC_ALIASES: Record<string, string> = {
  concurrency: 'inFlight',
  rps: 'requestRate',
};

/** Ports the server listens on (the pod contract); a model cannot move them. */
const SERVER_PORT_NUMBERS = new Set([8080, 8081]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(
  obj: Record<string, unknown>,
  known: ReadonlySet<string>,
  prefix: string,
): Unsupported[] {
  return Object.keys(obj)
    .filter((k) => !known.has(k))
    .map((k) => ({
      field: `${prefix}.${k}`,
      reason: 'FieldNotSupported' as const,
      message: `${prefix}.${k} is a field Tessera does not implement; remove it or run this model on KServe`,
    }));
}

function checkStorage(model: Record<string, unknown>, prefix: string): Unsupported[] {
  const uri = model['storageUri'];
  if (typeof uri !== 'string') return [];
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme !== undefined && (SUPPORTED_STORAGE_SCHEMES as readonly string[]).includes(scheme))
    return [];
  return [
    {
      field: `${prefix}.storageUri`,
      reason: 'StorageSchemeNotSupported',
      message: `${prefix}.storageUri uses ${scheme === undefined ? 'no scheme' : `the scheme ${scheme}://`}, which Tessera's agent cannot download from (use ${SUPPORTED_STORAGE_SCHEMES.map((s) => `${s}://`).join(', ')})`,
    },
  ];
}

function checkProtocol(model: Record<string, unknown>, prefix: string): Unsupported[] {
  const protocol = model['protocolVersion'];
  if (protocol === undefined || protocol === 'v2' || protocol === 'grpc-v2') return [];
  return [
    {
      field: `${prefix}.protocolVersion`,
      reason: 'ProtocolNotSupported',
      message: `${prefix}.protocolVersion is ${typeof protocol === 'string' ? protocol : JSON.stringify(protocol)}: Tessera serves only the V2 (Open Inference) protocol, over REST and gRPC (v2, grpc-v2)`,
    },
  ];
}

function checkEnv(model: Record<string, unknown>, prefix: string): Unsupported[] {
  const reserved = new Set<string>(Object.values(ENV));
  const env: unknown[] = Array.isArray(model['env']) ? model['env'] : [];
  return env
    .map((e) => (isRecord(e) ? e['name'] : undefined))
    .filter(
      (name): name is string =>
        typeof name === 'string' && (reserved.has(name) || name.startsWith('TESSERA_')),
    )
    .map((name) => ({
      field: `${prefix}.env`,
      reason: 'ReservedEnvName' as const,
      message: `${prefix}.env sets ${name}, which the operator sets for the server and agent (the pod contract); choose another name`,
    }));
}

function checkPorts(model: Record<string, unknown>, prefix: string): Unsupported[] {
  const ports: unknown[] = Array.isArray(model['ports']) ? model['ports'] : [];
  return ports
    .map((p) => (isRecord(p) ? p['containerPort'] : undefined))
    .filter((port): port is number => typeof port === 'number' && !SERVER_PORT_NUMBERS.has(port))
    .map((port) => ({
      field: `${prefix}.ports`,
      reason: 'PortNotConfigurable' as const,
      message: `${prefix}.ports asks for port ${String(port)}, but the server always listens on 8080 (REST) and 8081 (gRPC); remove ports or use those`,
    }));
}

/** Anything Pod Security "restricted" forbids (kubernetes.io/docs/concepts/security/pod-security-standards). */
function asksForPrivileges(sc: Record<string, unknown>): boolean {
  const caps = isRecord(sc['capabilities']) ? sc['capabilities']['add'] : undefined;
  return (
    sc['privileged'] === true ||
    sc['allowPrivilegeEscalation'] === true ||
    sc['runAsNonRoot'] === false ||
    sc['runAsUser'] === 0 ||
    (Array.isArray(caps) && caps.length > 0)
  );
}

function checkSecurity(model: Record<string, unknown>, prefix: string): Unsupported[] {
  const sc = model['securityContext'];
  if (!isRecord(sc) || !asksForPrivileges(sc)) return [];
  return [
    {
      field: `${prefix}.securityContext`,
      reason: 'PrivilegedNotAllowed',
      message: `${prefix}.securityContext asks for privileges (privileged, privilege escalation, root or added capabilities); Tessera's pods meet Pod Security "restricted"`,
    },
  ];
}

function checkModel(model: Record<string, unknown>, prefix: string): Unsupported[] {
  return [
    ...unknownFields(model, MODEL_FIELDS, prefix),
    ...checkStorage(model, prefix),
    ...checkProtocol(model, prefix),
    ...checkEnv(model, prefix),
    ...checkPorts(model, prefix),
    ...checkSecurity(model, prefix),
  ];
}

/** transformer, explainer and unknown keys directly under `spec`. */
function checkSpecLevel(spec: Record<string, unknown>): Unsupported[] {
  const out: Unsupported[] = [];
  for (const [key, reason, what] of [
    ['transformer', 'TransformerNotSupported', 'transformers (pre/post-processing containers)'],
    ['explainer', 'ExplainerNotSupported', 'explainers'],
  ] as const)
    if (spec[key] !== undefined)
      out.push({
        field: key,
        reason,
        message: `spec.${key}: Tessera runs no ${what}; only the predictor is served`,
      });
  out.push(
    ...unknownFields(
      spec,
      new Set(['predictor', 'deploymentMode', 'transformer', 'explainer']),
      'spec',
    ),
  );
  return out;
}

/**
 * Legacy `predictor.<framework>` becomes `predictor.model` (the framework names the format, its
 * body is the model). Returns a new predictor without the framework keys.
 */
function legacyToModel(predictor: Record<string, unknown>): {
  predictor: Record<string, unknown>;
  unsupported: Unsupported[];
} {
  const legacy = Object.keys(LEGACY_FRAMEWORKS).filter((k) => predictor[k] !== undefined);
  const out = Object.fromEntries(
    Object.entries(predictor).filter(([k]) => !Object.hasOwn(LEGACY_FRAMEWORKS, k)),
  );
  const unsupported: Unsupported[] = [];
  const named = [...(predictor['model'] !== undefined ? ['model'] : []), ...legacy];
  if (named.length > 1)
    unsupported.push({
      field: 'predictor',
      reason: 'AmbiguousPredictor',
      message: `predictor names more than one model (${named.join(', ')}); keep exactly one`,
    });
  const [framework] = legacy;
  if (framework !== undefined && predictor['model'] === undefined) {
    const body = predictor[framework];
    const name = LEGACY_FRAMEWORKS[framework as keyof typeof LEGACY_FRAMEWORKS];
    out['model'] = { ...(isRecord(body) ? body : {}), modelFormat: { name } };
  }
  return { predictor: out, unsupported };
}

function checkPredictor(
  predictor: Record<string, unknown>,
  deploymentMode: unknown,
): Unsupported[] {
  const out: Unsupported[] = [];
  if (predictor['containers'] !== undefined)
    out.push({
      field: 'predictor.containers',
      reason: 'CustomContainerNotSupported',
      message:
        'predictor.containers asks for a custom predictor container; Tessera serves models with its own server image (use model.modelFormat with a ServingRuntime, or a custom runtime of the Tessera server)',
    });
  else if (predictor['model'] === undefined)
    out.push({
      field: 'predictor',
      reason: 'FieldNotSupported',
      message: `predictor names no model: set predictor.model (modelFormat and storageUri) or one of ${Object.keys(LEGACY_FRAMEWORKS).join(', ')}`,
    });
  if (predictor['minReplicas'] === 0)
    out.push({
      field: 'predictor.minReplicas',
      reason: 'ScaleToZeroNotSupported',
      message:
        'predictor.minReplicas is 0: Tessera does not scale to zero yet; set minReplicas to 1 or more',
    });
  if (isRecord(predictor['model'])) out.push(...checkModel(predictor['model'], 'predictor.model'));
  if (deploymentMode === 'Shared')
    for (const f of POD_FIELDS.filter((k) => predictor[k] !== undefined))
      out.push({
        field: `predictor.${f}`,
        reason: 'PodFieldsInSharedMode',
        message: `predictor.${f} shapes the model's own pod, but a Shared-mode model runs on a pool shard it shares; use deploymentMode Dedicated`,
      });
  return out;
}

/**
 * KServe writes `maxUnavailable: "0"` and reads it with Go's `intstr.Parse`, which makes a
 * numeric string an integer; apps/v1 accepts only an integer or a percentage, so the same
 * conversion is done here (a string like "25%" stays as it is).
 */
function normalizeStrategy(strategy: unknown): Record<string, unknown> | undefined {
  if (!isRecord(strategy) || !isRecord(strategy['rollingUpdate'])) return undefined;
  const rolling = Object.fromEntries(
    Object.entries(strategy['rollingUpdate']).map(([k, v]) => [
      k,
      typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v,
    ]),
  );
  return { ...strategy, rollingUpdate: rolling };
}

/**
 * Converts a KServe v1beta1 (or Tessera) InferenceService `spec` to the canonical shape and
 * lists what Tessera cannot honour. Input without a predictor object is returned as-is for the
 * schema to reject with its own message.
 */
export function normalizeInferenceServiceSpec(spec: unknown): NormalizedSpec {
  if (!isRecord(spec) || !isRecord(spec['predictor']))
    return { spec: isRecord(spec) ? spec : {}, unsupported: [] };
  const raw = spec['predictor'];
  const { predictor, unsupported: ambiguous } = legacyToModel(raw);
  const strategy = normalizeStrategy(predictor['deploymentStrategy']);
  if (strategy !== undefined) predictor['deploymentStrategy'] = strategy;
  if (typeof predictor['serviceAccount'] === 'string') {
    predictor['serviceAccountName'] ??= predictor['serviceAccount'];
    delete predictor['serviceAccount'];
  }
  const metric = predictor['scaleMetric'];
  if (typeof metric === 'string' && SCALE_METRIC_ALIASES[metric] !== undefined)
    predictor['scaleMetric'] = SCALE_METRIC_ALIASES[metric];
  return {
    spec: { ...spec, predictor },
    unsupported: [
      ...checkSpecLevel(spec),
      ...unknownFields(raw, PREDICTOR_FIELDS, 'predictor'),
      ...ambiguous,
      ...checkPredictor(predictor, spec['deploymentMode']),
    ],
  };
}
