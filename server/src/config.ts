/**
 * Server settings, parsed once at the edge (conventions §4.6) — the only module that reads
 * process.env.
 *
 * Sources, lowest precedence first: defaults, `<folder>/settings.json` (MLServer's file), `MLSERVER_*`
 * environment variables (so existing deployments move over unchanged), `TESSERA_*` variables, then
 * CLI flags. A bad value fails with one message naming where it came from, the field and the reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVER_SHUTDOWN_TIMEOUT_SECONDS, modelNameSchema } from '@tessera/contract';
import { z } from 'zod';

const MiB = 1024 * 1024;
/** Where environment tarballs are unpacked unless `environments_dir` says otherwise. */
const DEFAULT_ENVIRONMENTS_DIR = join(tmpdir(), 'tessera-environments');

/** Booleans accept JSON booleans and the strings MLServer's docs use ("true", "false", "1", "0"). */
const bool = z.union([z.boolean(), z.stringbool()]);
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );
const port = integer(0, 65535);
/** Structured values (arrays, objects) arrive as JSON text from environment variables. */
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }, schema);

const corsSchema = z.object({
  allow_origins: z.array(z.string()).default([]),
  allow_origin_regex: z.string().nullable().default(null),
  allow_credentials: bool.default(false),
  allow_methods: z.array(z.string()).default(['GET']),
  allow_headers: z.array(z.string()).default([]),
  expose_headers: z.array(z.string()).default([]),
  max_age: integer(0).default(600),
});

/** The settings schema; field names are MLServer's where MLServer has the setting. */
export const settingsSchema = z.object({
  host: z.string().min(1).default('0.0.0.0'),
  http_port: port.default(8080),
  grpc_port: port.default(8081),
  metrics_port: port.default(8082),
  model_repository_root: z.string().min(1).default('.'),
  load_models_at_startup: bool.default(true),
  /**
   * Models that must be READY before the server reports ready (`/v2/health/ready`, ServerReady):
   * with an agent driving loads, "ready" must mean "serves its model", not "process is up".
   */
  required_models: json(z.array(modelNameSchema)).default([]),
  /**
   * When set, the repository API (REST `/v2/repository/*`) is served only on this port, bound to
   * `admin_host`, and refused on the inference ports (docs/errors.md, SRV_ERR_ADMIN_ONLY).
   */
  admin_port: port.nullable().default(null),
  admin_host: z.string().min(1).default('127.0.0.1'),
  server_name: z.string().min(1).default('tessera'),
  server_version: z.string().min(1).default('0.1.0'),
  extensions: json(z.array(z.string())).default([]),
  root_path: z
    .string()
    .regex(
      /^(\/[A-Za-z0-9._~-]+)*$/,
      "must be empty or a path such as '/serving' (no trailing slash)",
    )
    .default(''),
  gzip_enabled: bool.default(true),
  cors_settings: json(corsSchema.nullable()).default(null),
  metrics_endpoint: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, "must be a path such as '/metrics'")
    .nullable()
    .default('/metrics'),
  metrics_rest_server_prefix: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)
    .default('rest_server'),
  tracing_server: z.string().min(1).nullable().default(null),
  tracing_protocol: z.enum(['grpc', 'http/protobuf']).default('grpc'),
  tracing_service_name: z.string().min(1).default('tessera-server'),
  use_structured_logging: bool.default(true),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  debug: bool.default(false),
  max_body_bytes: integer(1024).default(64 * MiB),
  max_json_depth: integer(2, 1000).default(100),
  // 2^24: a full 64 MiB body of FP32 fits; a JSON body of one-digit numbers (2 bytes each) does not.
  max_request_elements: integer(1).default(16 * MiB),
  max_response_bytes: integer(1024).default(64 * MiB),
  grpc_max_message_length: integer(1024, 2 ** 31 - 1).default(64 * MiB),
  /**
   * How gRPC ModelInfer answers carry outputs: `raw` (`raw_output_contents`, what Triton always
   * sends and the only form tritonclient decodes) or `as_request` (typed `contents` when the
   * request used typed contents, raw otherwise: MLServer's behaviour).
   */
  grpc_output_contents: z.enum(['raw', 'as_request']).default('raw'),
  /**
   * Triton's `--allow-client-shm`: whether clients may register system shared-memory regions and
   * pass tensors through them (docs/triton-extensions.md). Off by default, as in Triton: only a
   * client on the same host (pod) can use it, and it lets that client name host memory objects.
   */
  allow_client_shm: bool.default(false),
  headers_timeout_seconds: integer(1).default(30),
  request_timeout_seconds: integer(1).default(120),
  keep_alive_timeout_seconds: integer(1).default(75),
  infer_timeout_seconds: integer(0).default(60),
  drain_timeout_seconds: integer(0).default(30),
  parallel_workers: integer(0, 64).default(1),
  /**
   * Worker threads the server starts before model instances share them (0 = one per CPU core,
   * and never fewer than `parallel_workers`): a thread costs ~10 MiB and adds no compute past the
   * cores, so many models share few threads, each thread hosting several models.
   */
  max_worker_threads: integer(0, 1024).default(0),
  /**
   * Requests one worker thread holds at once, running and queued (a model with
   * `parallel_workers: N` holds N times this); one more answers SRV_ERR_OVERLOADED at once.
   */
  worker_max_in_flight: integer(1, 1_000_000).default(1024),
  /**
   * MLServer's response cache (docs/response-cache.md): on here and in a model's
   * model-settings.json (`cache_enabled`), a request that repeats an earlier one is answered from
   * the cache. `cache_size` bounds the answers kept (MLServer's setting), `cache_max_bytes` the
   * tensor bytes they hold.
   */
  cache_enabled: bool.default(false),
  cache_size: integer(1, 1_000_000).default(100),
  cache_max_bytes: integer(1024).default(64 * MiB),
  /**
   * The Python that serves MLServer runtimes named by a Python class (docs/python-runtimes.md);
   * null: none, such models fail to load saying how to configure one. A model's
   * `parameters.environment_path` (a virtualenv) overrides it.
   */
  python_executable: z.string().min(1).nullable().default(null),
  /** Requests in flight at once per Python worker; one more answers SRV_ERR_OVERLOADED. */
  python_max_in_flight: integer(1, 65536).default(64),
  /**
   * Distinct custom metrics (`mlserver.register` / `mlserver.log`) one Python model may create;
   * more are refused with a warning in the log (docs/python-runtimes.md, "Custom metrics").
   */
  python_max_custom_metrics: integer(0, 10_000).default(32),
  /**
   * A packed environment (conda-pack / venv-pack tarball) for every Python model without its own
   * `parameters.environment_path` or `environment_tarball`: MLServer's MLSERVER_ENV_TARBALL.
   * Relative to the server's folder.
   */
  env_tarball: z.string().min(1).nullable().default(null),
  /**
   * Where environment tarballs are unpacked, one folder per content hash, reused across models
   * and restarts; relative to the server's folder. Default: `tessera-environments` in the OS's
   * temporary folder (resolved by loadSettings).
   */
  environments_dir: z.string().min(1).default(DEFAULT_ENVIRONMENTS_DIR),
  /** Bytes one environment may take, packed and unpacked (default 20 GiB). */
  environment_max_bytes: integer(1).default(20 * 1024 * MiB),
  /** Files, folders and links one environment tarball may hold. */
  environment_max_entries: integer(1).default(500_000),
  /**
   * Bytes of unpacked environments that no loaded model uses, kept in environments_dir for reuse;
   * past it the least recently used are removed. null: all are kept (MLServer's behaviour).
   */
  environments_cache_bytes: integer(0).nullable().default(null),
  shutdown_timeout_seconds: integer(1).default(SERVER_SHUTDOWN_TIMEOUT_SECONDS),
  /**
   * How long a SIGTERM'd server keeps serving, unready, before it closes its listeners: the time
   * load balancers (kube-proxy, an ingress) take to drop the endpoint. Kubernetes removes a
   * terminating pod from its Service and signals it at the same moment, so a server that closes
   * at once refuses requests routed to it before the removal arrived. 0 closes at once.
   */
  shutdown_delay_seconds: integer(0, 3600).default(0),
});

/** Parsed, immutable settings. */
export type Settings = Readonly<z.infer<typeof settingsSchema>>;

/** Settings that could not be parsed; `message` is the one line printed before exiting. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** Options from the command line, already split into a folder and flags. */
export interface CliOverrides {
  readonly folder?: string;
  readonly values?: Readonly<Record<string, string>>;
}

type Layer = {
  readonly origin: (field: string) => string;
  readonly values: Record<string, unknown>;
};

/**
 * Loads settings from every source. Pure apart from reading `settings.json`: the environment is
 * passed in, so tests give their own.
 */
export function loadSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cli: CliOverrides = {},
  cwd: string = process.cwd(),
): Settings {
  const folder = resolve(cwd, cli.folder ?? '.');
  const layers: Layer[] = [
    settingsFileLayer(folder),
    envLayer(env, 'MLSERVER_'),
    envLayer(env, 'TESSERA_'),
    { origin: (f) => `--${f.replaceAll('_', '-')}`, values: { ...(cli.values ?? {}) } },
  ];
  const { merged, origins } = mergeLayers(layers);
  merged['model_repository_root'] ??= folder;
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) throw settingsError(parsed.error, origins);
  const settings = parsed.data;
  const root = resolve(folder, settings.model_repository_root);
  if (!existsSync(root)) {
    const where = origins.get('model_repository_root') ?? 'the command line';
    throw new SettingsError(
      `invalid setting model_repository_root (from ${where}): folder does not exist`,
    );
  }
  return Object.freeze({
    ...settings,
    model_repository_root: root,
    environments_dir: resolve(folder, settings.environments_dir),
    env_tarball: settings.env_tarball === null ? null : resolve(folder, settings.env_tarball),
  });
}

/** Later layers win; each field remembers where its value came from, for error messages. */
function mergeLayers(layers: readonly Layer[]): {
  merged: Record<string, unknown>;
  origins: Map<string, string>;
} {
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      merged[key] = value;
      origins.set(key, layer.origin(key));
    }
  }
  return { merged, origins };
}

/** One line naming the field, where its value came from, and why it is wrong. */
function settingsError(error: z.ZodError, origins: ReadonlyMap<string, string>): SettingsError {
  const issue = error.issues[0];
  const field = String(issue?.path[0] ?? '(root)');
  const where = origins.get(field) ?? 'settings';
  const path = issue === undefined ? field : issue.path.join('.');
  return new SettingsError(
    `invalid setting ${path} (from ${where}): ${issue?.message ?? 'invalid'}`,
  );
}

function settingsFileLayer(folder: string): Layer {
  const file = join(folder, 'settings.json');
  const origin = (): string => 'settings.json';
  if (!existsSync(file)) return { origin, values: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SettingsError(`settings.json is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SettingsError('settings.json must hold a JSON object');
  }
  const known = settingsSchema.shape;
  // Unknown keys are ignored, as MLServer does (extra="ignore"), so its files load unchanged.
  const values = Object.fromEntries(Object.entries(raw).filter(([k]) => k in known));
  return { origin, values };
}

function envLayer(env: Readonly<Record<string, string | undefined>>, prefix: string): Layer {
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(settingsSchema.shape)) {
    const value = env[prefix + field.toUpperCase()];
    if (value !== undefined) values[field] = value;
  }
  return { origin: (f) => `environment variable ${prefix}${f.toUpperCase()}`, values };
}
