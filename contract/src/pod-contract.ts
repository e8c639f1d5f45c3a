/**
 * The pod contract: what the operator writes into a server pod and what the server and the agent
 * read from it. Both sides import these constants, so a port, a path or a variable name cannot
 * drift between the programs (architecture-review.md, "the weak seam").
 *
 * A generated pod runs two containers that share the model volume:
 *   - `server`: the V2 data plane on the inference ports; its repository API is bound to loopback
 *     on the admin port, so only containers of the same pod reach it, never the Service;
 *   - `agent`: pulls artefacts (it alone holds storage credentials) and fronts the repository API
 *     for the operator on the agent port.
 */

/** Container ports of the server (MLServer defaults: http 8080, grpc 8081, metrics 8082). */
export const SERVER_PORTS = { http: 8080, grpc: 8081, metrics: 8082 } as const;

/** The server's repository API (REST), bound to `ADMIN_HOST` inside the pod. */
export const ADMIN_PORT = 8085;

/** Loopback: the admin port is reachable from the pod's own containers only. */
export const ADMIN_HOST = '127.0.0.1';

/** The agent's API (repository API plus artefact pulls) and its metrics, for the operator. */
export const AGENT_PORT = 8090;

/** Container names in generated pods. */
export const CONTAINER_NAMES = { server: 'server', agent: 'agent' } as const;

/** Probe paths (OIP health; the agent's own health). */
export const PROBE_PATHS = {
  serverReady: '/v2/health/ready',
  serverLive: '/v2/health/live',
  agentReady: '/readyz',
  agentLive: '/healthz',
} as const;

/** Where the shared model volume is mounted in both containers (KServe's path). */
export const MODEL_DIR = '/mnt/models';

/** Where the storage-credentials Secret is mounted, in the agent container only. */
export const CREDENTIALS_DIR = '/var/run/secrets/tessera/storage';

/**
 * The per-namespace storage-config Secret (KServe ModelMesh's `storage-config`): each key is one
 * named storage entry, a JSON object such as `{"type":"s3","access_key_id":…}`, that an
 * InferenceService selects with `spec.predictor.model.storage.key`. Pool shards serve many
 * models, so they mount this one Secret (optional: absent means no entries) instead of each
 * model's own Secret, and a model with a new key never restarts its shard.
 */
export const STORAGE_CONFIG_SECRET = 'tessera-storage-config';

/** Where the storage-config Secret is mounted, in the agent container only. */
export const STORAGE_CONFIG_DIR = '/var/run/secrets/tessera/storage-config';

/** The server's arguments in generated pods: serve the shared model volume. */
export const SERVER_ARGS = ['start', MODEL_DIR] as const;

/** The agent's arguments (`tessera agent`, same image as the server). */
export const AGENT_ARGS = ['agent'] as const;

/**
 * Environment variables of the pod contract. Server settings follow the `TESSERA_<FIELD>`
 * convention of server/src/config.ts; agent settings use `TESSERA_AGENT_<FIELD>`.
 */
export const ENV = {
  /** Server: JSON array of model names that must be READY before the server reports ready. */
  requiredModels: 'TESSERA_REQUIRED_MODELS',
  /** Server: do not load anything found on the volume at start; the agent drives loads. */
  loadModelsAtStartup: 'TESSERA_LOAD_MODELS_AT_STARTUP',
  /** Server: seconds it keeps serving, unready, after SIGTERM (endpoint removal lags the signal). */
  shutdownDelaySeconds: 'TESSERA_SHUTDOWN_DELAY_SECONDS',
  /** Server: serve the repository API on this port only (not on the inference port). */
  adminPort: 'TESSERA_ADMIN_PORT',
  /** Server: bind address of the admin port. */
  adminHost: 'TESSERA_ADMIN_HOST',
  /** Server and agent: bind address of the inference / agent ports. */
  host: 'TESSERA_HOST',
  /** Agent: bind address and port of the agent API. */
  agentHost: 'TESSERA_AGENT_HOST',
  agentPort: 'TESSERA_AGENT_PORT',
  /** Agent: base URL of the server's repository API (the admin port on loopback). */
  agentServerUrl: 'TESSERA_AGENT_SERVER_URL',
  /** Agent: the shared model volume. */
  agentModelDir: 'TESSERA_AGENT_MODEL_DIR',
  /** Agent: folder holding storage credentials (a mounted Secret). */
  agentCredentialsDir: 'TESSERA_AGENT_CREDENTIALS_DIR',
  /** Agent: folder holding the storage-config Secret (one JSON storage entry per file). */
  agentStorageConfigDir: 'TESSERA_AGENT_STORAGE_CONFIG_DIR',
  /** Agent: JSON array of folders that `file://`, local paths and `pvc://` may read from. */
  agentAllowedRoots: 'TESSERA_AGENT_ALLOWED_ROOTS',
  /** Agent: where `pvc://<claim>/<path>` claims are mounted (`<root>/<claim>/<path>`). */
  agentPvcRoot: 'TESSERA_AGENT_PVC_ROOT',
} as const;

/** The server's admin URL as the agent sees it, from the pod's point of view. */
export function adminUrl(host: string = ADMIN_HOST, port: number = ADMIN_PORT): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Files the agent reads from `CREDENTIALS_DIR` (one Secret key per file, as a mounted Secret
 * lays them out; KServe's storage-initializer names). Only the agent container mounts them.
 */
export const CREDENTIAL_FILES = {
  /** S3 and S3-compatible stores. */
  s3AccessKeyId: 'AWS_ACCESS_KEY_ID',
  s3SecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  s3SessionToken: 'AWS_SESSION_TOKEN',
  s3Region: 'AWS_DEFAULT_REGION',
  /** Endpoint override (`http(s)://host:port`) for S3-compatible stores; path-style is used. */
  s3Endpoint: 'S3_ENDPOINT',
  /** `0` / `false`: the endpoint is plain HTTP when S3_ENDPOINT names no scheme. */
  s3UseHttps: 'S3_USE_HTTPS',
  /** A GCS service-account key (KServe's key name); absent means anonymous access. */
  gcsServiceAccount: 'gcloud-application-credentials.json',
  /**
   * GCS HMAC keys: gs:// is then read through GCS's S3-compatible XML API (at `GCS_ENDPOINT`,
   * default `https://storage.googleapis.com`) instead of the JSON API with a service account.
   */
  gcsHmacAccessId: 'GCS_HMAC_ACCESS_ID',
  gcsHmacSecret: 'GCS_HMAC_SECRET',
  /** Endpoint override (`http(s)://host:port`) of GCS, e.g. an emulator such as fake-gcs-server. */
  gcsEndpoint: 'GCS_ENDPOINT',
} as const;

/**
 * The server's default bound on a graceful shutdown after its shutdown delay
 * (`shutdown_timeout_seconds`); the operator sizes a pod's grace period from it.
 */
export const SERVER_SHUTDOWN_TIMEOUT_SECONDS = 30;
