/**
 * Agent settings, parsed once with zod from `TESSERA_AGENT_*` variables (names in the contract's
 * ENV, plus `TESSERA_AGENT_<FIELD>` for the rest) and `--flag` overrides. The only reader of
 * process.env in agent/.
 */
import { isAbsolute } from 'node:path';
import {
  AGENT_PORT,
  CREDENTIALS_DIR,
  ENV,
  MODEL_DIR,
  STORAGE_CONFIG_DIR,
  adminUrl,
} from '@tessera/contract';
import { z } from 'zod';

const GiB = 1024 ** 3;

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );
const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }, schema);
const absolutePath = z.string().refine(isAbsolute, 'must be an absolute path');

/** The agent's settings schema (snake_case, like the server's). */
export const agentSettingsSchema = z.object({
  host: z.string().min(1).default('0.0.0.0'),
  port: integer(0, 65535).default(AGENT_PORT),
  /** The server's repository API: its admin port on loopback. */
  server_url: z.url().default(adminUrl()),
  model_dir: absolutePath.default(MODEL_DIR),
  credentials_dir: absolutePath.default(CREDENTIALS_DIR),
  /** The mounted storage-config Secret: one JSON storage entry per key (`storage_key`). */
  storage_config_dir: absolutePath.default(STORAGE_CONFIG_DIR),
  /** Folders that file://, local paths and pvc:// may read from (after resolving links). */
  allowed_roots: json(z.array(absolutePath)).default([]),
  pvc_root: absolutePath.default('/mnt/pvc'),
  /** When non-empty, http(s) sources and their redirects must name one of these hosts. */
  allowed_hosts: json(z.array(z.string().min(1))).default([]),
  connect_timeout_ms: integer(1).default(10_000),
  /** A transfer that receives nothing for this long fails (a stalled peer). */
  stall_timeout_ms: integer(1).default(30_000),
  /** How long the server may take to load a model. */
  load_timeout_ms: integer(1).default(600_000),
  max_redirects: integer(0, 20).default(5),
  /** Archives that expand past this many bytes, or hold more entries, are rejected. */
  max_extracted_bytes: integer(1).default(50 * GiB),
  max_archive_entries: integer(1).default(100_000),
  /** Disk budget for artefacts no model uses any more, kept so a reload needs no pull. */
  cache_bytes: integer(0).default(0),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Parsed, immutable agent settings. */
export type AgentSettings = Readonly<z.infer<typeof agentSettingsSchema>>;

/** Settings that failed to parse; the message names every bad field and where it came from. */
export class AgentSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentSettingsError';
  }
}

/** Contract variable names that differ from the `TESSERA_AGENT_<FIELD>` convention. */
const ENV_NAMES: Partial<Record<keyof typeof agentSettingsSchema.shape, string>> = {
  host: ENV.agentHost,
  port: ENV.agentPort,
  server_url: ENV.agentServerUrl,
  model_dir: ENV.agentModelDir,
  credentials_dir: ENV.agentCredentialsDir,
  storage_config_dir: ENV.agentStorageConfigDir,
  allowed_roots: ENV.agentAllowedRoots,
  pvc_root: ENV.agentPvcRoot,
};

/** The environment variable of a field. */
export function envName(field: keyof typeof agentSettingsSchema.shape): string {
  return ENV_NAMES[field] ?? `TESSERA_AGENT_${field.toUpperCase()}`;
}

/** Loads settings from the environment, then flags (`--model-dir /x` → model_dir). Pure. */
export function loadAgentSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  flags: Readonly<Record<string, string>> = {},
): AgentSettings {
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const field of Object.keys(agentSettingsSchema.shape) as (keyof typeof ENV_NAMES)[]) {
    const value = env[envName(field)];
    if (value !== undefined) {
      raw[field] = value;
      origin.set(field, `environment variable ${envName(field)}`);
    }
  }
  for (const [flag, value] of Object.entries(flags)) {
    const field = flag.replaceAll('-', '_');
    raw[field] = value;
    origin.set(field, `--${flag}`);
  }
  const parsed = agentSettingsSchema.strict().safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '(root)');
      const where = origin.get(field) ?? 'settings';
      return `invalid setting ${issue.path.join('.') || field} (from ${where}): ${issue.message}`;
    });
    throw new AgentSettingsError(lines.join('; '));
  }
  return Object.freeze(parsed.data);
}
