import { hostname } from 'node:os';
import { z } from 'zod';
import {
  DEFAULT_MODEL_VOLUME_SIZE_LIMIT,
  DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS,
  type ManifestConfig,
} from './manifests/input.js';
import { quantityToBytes } from './manifests/quantity.js';

const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().positive();
const quantity = z.string().refine((q) => quantityToBytes(q) !== undefined, {
  message: "must be a memory quantity such as '256Mi' or '4Gi'",
});
/** RFC 1123 label: a namespace or a Secret name. */
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A comma-separated list of DNS labels ('' is the empty list); blanks around commas are fine. */
const labelList = (what: string) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    )
    .refine((names) => names.every((n) => n.length <= 63 && dnsLabel.test(n)), {
      message: `must be a comma-separated list of ${what} (lowercase RFC 1123 labels)`,
    });

/** Environment variables of the operator (prefix `TESSERA_OPERATOR_`), with defaults. */
const envSchema = z
  .object({
    TESSERA_OPERATOR_KUBECONFIG: z.string().min(1).optional(),
    KUBECONFIG: z.string().optional(),
    KUBERNETES_SERVICE_HOST: z.string().optional(),
    KUBERNETES_SERVICE_PORT: z.string().default('443'),
    TESSERA_OPERATOR_NAMESPACE: z.string().min(1).default('tessera-system'),
    // One namespace, or a comma-separated list (namespace-scoped install); '' watches all.
    TESSERA_OPERATOR_WATCH_NAMESPACE: labelList('namespaces').default([]),
    // Off for a namespace-scoped install, which holds no ClusterRole to read them.
    TESSERA_OPERATOR_CLUSTER_RUNTIMES: z.stringbool().default(true),
    // Secrets (in each model's namespace) the server pods pull their images with.
    TESSERA_OPERATOR_IMAGE_PULL_SECRETS: labelList('Secret names').default([]),
    // The model volume of every server pod is an emptyDir bounded by this (kubelet evicts beyond).
    // Air-gapped clusters: the agent's egress proxy and an extra CA bundle (a ConfigMap's ca.crt).
    TESSERA_OPERATOR_AGENT_HTTP_PROXY: z.string().default(''),
    TESSERA_OPERATOR_AGENT_HTTPS_PROXY: z.string().default(''),
    TESSERA_OPERATOR_AGENT_NO_PROXY: z.string().default(''),
    TESSERA_OPERATOR_CA_BUNDLE_CONFIGMAP: z
      .string()
      .refine((s) => s === '' || (s.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s)), {
        message: 'must be a ConfigMap name (lowercase RFC 1123 subdomain)',
      })
      .default(''),
    TESSERA_OPERATOR_MODEL_VOLUME_SIZE_LIMIT: quantity.default(DEFAULT_MODEL_VOLUME_SIZE_LIMIT),
    TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS),
    // KEDA support (the `keda` autoscaler class): the Prometheus its triggers query; '' is off.
    TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: z
      .string()
      .refine((s) => s === '' || /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(s), {
        message:
          "must be the Prometheus server's http(s) URL, e.g. http://prometheus.monitoring:9090",
      })
      .default(''),
    // PromQL duration of the request-rate window: at least 4 scrape intervals (rate() needs two).
    TESSERA_OPERATOR_KEDA_RATE_WINDOW: z
      .string()
      .regex(/^[1-9][0-9]*(s|m|h)$/, { message: "must be a PromQL duration such as '2m' or '30s'" })
      .default('2m'),
    TESSERA_OPERATOR_SERVER_IMAGE: z.string().min(1).default('tessera/server'),
    TESSERA_OPERATOR_SERVER_IMAGE_TAG: z.string().min(1).default('0.1.0'),
    TESSERA_OPERATOR_CLUSTER_DOMAIN: z.string().min(1).default('cluster.local'),
    TESSERA_OPERATOR_FIELD_MANAGER: z.string().min(1).default('tessera-operator'),
    TESSERA_OPERATOR_WORKERS: z.coerce.number().int().positive().max(64).default(4),
    TESSERA_OPERATOR_RESYNC_SECONDS: seconds.default(600),
    TESSERA_OPERATOR_LEADER_ELECT: z.stringbool().default(true),
    TESSERA_OPERATOR_LEADER_ELECTION_ID: z.string().min(1).default('tessera-operator-leader'),
    TESSERA_OPERATOR_LEADER_IDENTITY: z.string().min(1).optional(),
    TESSERA_OPERATOR_LEASE_DURATION_SECONDS: seconds.default(15),
    TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS: seconds.default(10),
    TESSERA_OPERATOR_RETRY_PERIOD_SECONDS: seconds.default(2),
    // Default depends on where it runs (see loadConfig): probes need the pod IP in a cluster.
    TESSERA_OPERATOR_BIND_ADDRESS: z.string().min(1).optional(),
    TESSERA_OPERATOR_METRICS_PORT: port.default(8080),
    TESSERA_OPERATOR_HEALTH_PORT: port.default(8081),
    TESSERA_OPERATOR_MODEL_LOAD_TIMEOUT_SECONDS: seconds.default(900),
    TESSERA_OPERATOR_AGENT_TIMEOUT_SECONDS: seconds.default(5),
    TESSERA_OPERATOR_MODEL_RECHECK_SECONDS: seconds.default(30),
    TESSERA_OPERATOR_MODEL_POLL_SECONDS: seconds.default(1),
    TESSERA_OPERATOR_MODEL_RETRY_BASE_SECONDS: seconds.default(5),
    TESSERA_OPERATOR_MODEL_RETRY_MAX_SECONDS: seconds.default(300),
    TESSERA_OPERATOR_POOL_MAX_SHARDS: z.coerce.number().int().positive().max(1000).default(16),
    TESSERA_OPERATOR_POOL_SHARD_REPLICAS: z.coerce.number().int().positive().max(100).default(1),
    TESSERA_OPERATOR_DEFAULT_MODEL_MEMORY: quantity.default('256Mi'),
    TESSERA_OPERATOR_DEFAULT_POOL_CAPACITY: quantity.default('4Gi'),
    TESSERA_OPERATOR_LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  // client-go's leader election requires leaseDuration > renewDeadline > retryPeriod.
  .superRefine((env, ctx) => {
    if (
      env.TESSERA_OPERATOR_LEASE_DURATION_SECONDS <= env.TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['TESSERA_OPERATOR_LEASE_DURATION_SECONDS'],
        message: 'must be greater than TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS',
      });
    }
    if (env.TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS <= env.TESSERA_OPERATOR_RETRY_PERIOD_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS'],
        message: 'must be greater than TESSERA_OPERATOR_RETRY_PERIOD_SECONDS',
      });
    }
  });

/** Timeouts and periods of the driver. */
export interface ModelDriverTimings {
  /** How long one agent index call may take. */
  readonly indexTimeoutMs: number;
  /** How long one load call may take (a pull plus the server's load). */
  readonly loadTimeoutMs: number;
  /** How often a converged InferenceService's agents are asked again. */
  readonly recheckMs: number;
  /** How often a replica whose agent is busy (pulling) is asked again. */
  readonly pollMs: number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
}

/** Leader election settings; `enabled: false` runs the controllers at once (one replica). */
export type LeaderElectionConfig =
  | { readonly enabled: false }
  | {
      readonly enabled: true;
      readonly namespace: string;
      readonly leaseName: string;
      readonly identity: string;
      readonly leaseDurationMs: number;
      readonly renewDeadlineMs: number;
      readonly retryPeriodMs: number;
    };

/** The operator's configuration: parsed once at startup, immutable, passed explicitly. */
export interface OperatorConfig {
  /** How to reach the API server: a kubeconfig file, or the pod's service account. */
  readonly kube:
    | { readonly kind: 'kubeconfig'; readonly path: string }
    | { readonly kind: 'inCluster'; readonly host: string; readonly port: string };
  /** Namespaces to watch; empty watches all namespaces. */
  readonly watchNamespaces: readonly string[];
  /** Whether ClusterServingRuntimes are watched (a namespace-scoped install cannot read them). */
  readonly clusterRuntimes: boolean;
  readonly fieldManager: string;
  readonly workers: number;
  readonly resyncMs: number;
  readonly manifests: ManifestConfig;
  readonly leaderElection: LeaderElectionConfig;
  readonly http: {
    readonly bindAddress: string;
    readonly metricsPort: number;
    readonly healthPort: number;
  };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How the model driver talks to the agents. */
  readonly models: ModelDriverTimings;
  /** Shared-mode pool sizing. */
  readonly pools: {
    readonly defaultModelMemoryBytes: number;
    readonly defaultCapacityBytes: number;
    readonly maxShards: number;
    readonly shardReplicas: number;
    readonly recheckMs: number;
    readonly agentTimeoutMs: number;
  };
}

/** Thrown when the environment is invalid; the message lists every problem. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid operator configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const ENV_PREFIX = 'TESSERA_OPERATOR_';
const SETTINGS = Object.keys(envSchema.shape).filter((k) => k.startsWith(ENV_PREFIX));

/** `TESSERA_OPERATOR_LEADER_ELECT` ⇄ `--leader-elect`. */
function flagName(envName: string): string {
  return `--${envName.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '-')}`;
}

/**
 * Turns command-line flags into the environment variables they stand for, so both go through
 * one schema: `--watch-namespace=ns` or `--watch-namespace ns` sets
 * `TESSERA_OPERATOR_WATCH_NAMESPACE`; a bare `--leader-elect` means `true`. Flags win over env.
 */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const byFlag = new Map(SETTINGS.map((k) => [flagName(k), k]));
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const envName = byFlag.get(flag);
    if (envName === undefined) {
      problems.push(`unknown argument ${arg} (flags: ${[...byFlag.keys()].join(' ')})`);
      continue;
    }
    const next = argv[i + 1];
    if (eq >= 0) out[envName] = arg.slice(eq + 1);
    else if (next !== undefined && !next.startsWith('--')) {
      out[envName] = next;
      i++;
    } else out[envName] = 'true';
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/** KEDA support: on only when a Prometheus address is given. */
function kedaSettings(e: z.infer<typeof envSchema>): Pick<ManifestConfig, 'keda'> {
  if (e.TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS === '') return {};
  return {
    keda: Object.freeze({
      prometheusAddress: e.TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS,
      rateWindow: e.TESSERA_OPERATOR_KEDA_RATE_WINDOW,
    }),
  };
}

/**
 * Parses the operator's configuration from `env` (default `process.env`) and command-line
 * flags (`argv`, which override env). Pure apart from the default leader identity, which uses
 * the host name (the pod name in a cluster) and the pid.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = [],
): OperatorConfig {
  const parsed = envSchema.safeParse({ ...env, ...flagsToEnv(argv) });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const kubeconfig =
    e.TESSERA_OPERATOR_KUBECONFIG ?? (e.KUBECONFIG === '' ? undefined : e.KUBECONFIG);
  let kube: OperatorConfig['kube'];
  if (kubeconfig !== undefined)
    kube = { kind: 'kubeconfig', path: kubeconfig.split(':')[0] ?? kubeconfig };
  else if (e.KUBERNETES_SERVICE_HOST !== undefined && e.KUBERNETES_SERVICE_HOST !== '') {
    kube = { kind: 'inCluster', host: e.KUBERNETES_SERVICE_HOST, port: e.KUBERNETES_SERVICE_PORT };
  } else {
    throw new ConfigError([
      'no API server: set TESSERA_OPERATOR_KUBECONFIG or KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST)',
    ]);
  }
  return Object.freeze({
    kube: Object.freeze(kube),
    watchNamespaces: Object.freeze([...new Set(e.TESSERA_OPERATOR_WATCH_NAMESPACE)]),
    clusterRuntimes: e.TESSERA_OPERATOR_CLUSTER_RUNTIMES,
    fieldManager: e.TESSERA_OPERATOR_FIELD_MANAGER,
    workers: e.TESSERA_OPERATOR_WORKERS,
    resyncMs: e.TESSERA_OPERATOR_RESYNC_SECONDS * 1000,
    manifests: Object.freeze({
      serverImage: `${e.TESSERA_OPERATOR_SERVER_IMAGE}:${e.TESSERA_OPERATOR_SERVER_IMAGE_TAG}`,
      clusterDomain: e.TESSERA_OPERATOR_CLUSTER_DOMAIN,
      imagePullSecrets: Object.freeze([...e.TESSERA_OPERATOR_IMAGE_PULL_SECRETS]),
      modelVolumeSizeLimit: e.TESSERA_OPERATOR_MODEL_VOLUME_SIZE_LIMIT,
      serverShutdownDelaySeconds: e.TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS,
      agentProxy: Object.freeze({
        httpProxy: e.TESSERA_OPERATOR_AGENT_HTTP_PROXY,
        httpsProxy: e.TESSERA_OPERATOR_AGENT_HTTPS_PROXY,
        noProxy: e.TESSERA_OPERATOR_AGENT_NO_PROXY,
      }),
      caBundleConfigMap: e.TESSERA_OPERATOR_CA_BUNDLE_CONFIGMAP,
      ...kedaSettings(e),
    }),
    leaderElection: e.TESSERA_OPERATOR_LEADER_ELECT
      ? Object.freeze({
          enabled: true as const,
          namespace: e.TESSERA_OPERATOR_NAMESPACE,
          leaseName: e.TESSERA_OPERATOR_LEADER_ELECTION_ID,
          identity: e.TESSERA_OPERATOR_LEADER_IDENTITY ?? `${hostname()}_${process.pid}`,
          leaseDurationMs: e.TESSERA_OPERATOR_LEASE_DURATION_SECONDS * 1000,
          renewDeadlineMs: e.TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS * 1000,
          retryPeriodMs: e.TESSERA_OPERATOR_RETRY_PERIOD_SECONDS * 1000,
        })
      : Object.freeze({ enabled: false as const }),
    http: Object.freeze({
      // Out of cluster the endpoints stay on loopback unless asked; in a pod the kubelet probes
      // the pod IP, so listen on every address (controller-runtime's ":8081").
      bindAddress:
        e.TESSERA_OPERATOR_BIND_ADDRESS ?? (kube.kind === 'inCluster' ? '0.0.0.0' : '127.0.0.1'),
      metricsPort: e.TESSERA_OPERATOR_METRICS_PORT,
      healthPort: e.TESSERA_OPERATOR_HEALTH_PORT,
    }),
    logLevel: e.TESSERA_OPERATOR_LOG_LEVEL,
    models: modelTimings(e),
    pools: poolSettings(e),
  });
}

type ParsedEnv = z.infer<typeof envSchema>;

function modelTimings(e: ParsedEnv): ModelDriverTimings {
  return Object.freeze({
    loadTimeoutMs: e.TESSERA_OPERATOR_MODEL_LOAD_TIMEOUT_SECONDS * 1000,
    indexTimeoutMs: e.TESSERA_OPERATOR_AGENT_TIMEOUT_SECONDS * 1000,
    recheckMs: e.TESSERA_OPERATOR_MODEL_RECHECK_SECONDS * 1000,
    pollMs: e.TESSERA_OPERATOR_MODEL_POLL_SECONDS * 1000,
    backoff: Object.freeze({
      baseMs: e.TESSERA_OPERATOR_MODEL_RETRY_BASE_SECONDS * 1000,
      maxMs: e.TESSERA_OPERATOR_MODEL_RETRY_MAX_SECONDS * 1000,
    }),
  });
}

function poolSettings(e: ParsedEnv): OperatorConfig['pools'] {
  return Object.freeze({
    defaultModelMemoryBytes: quantityToBytes(e.TESSERA_OPERATOR_DEFAULT_MODEL_MEMORY) ?? 0,
    defaultCapacityBytes: quantityToBytes(e.TESSERA_OPERATOR_DEFAULT_POOL_CAPACITY) ?? 0,
    maxShards: e.TESSERA_OPERATOR_POOL_MAX_SHARDS,
    shardReplicas: e.TESSERA_OPERATOR_POOL_SHARD_REPLICAS,
    recheckMs: e.TESSERA_OPERATOR_MODEL_RECHECK_SECONDS * 1000,
    agentTimeoutMs: e.TESSERA_OPERATOR_AGENT_TIMEOUT_SECONDS * 1000,
  });
}
