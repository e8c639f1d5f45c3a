/**
 * Entries of the storage-config Secret (KServe ModelMesh's `storage-config`, docs/predictors/
 * setup-storage.md; field names from modelmesh-runtime-adapter's pullman storage providers):
 * each Secret key is one named storage entry, a JSON object whose `type` is `s3`, `gcs` or
 * `http`. The agent reads the entry named by a load's `storage_key` from the mounted folder at
 * every pull, so an edited Secret takes effect without a restart (the kubelet re-projects it).
 *
 * Every secret value of an entry is registered with the {@link Redactor} before anything can
 * fail, and no error quotes a value: errors name the Secret, the key and the field only.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { STORAGE_CONFIG_SECRET, storageKeySchema } from '@tessera/contract';
import { z } from 'zod';
import type { GcsCredentials, Redactor, S3Credentials } from './credentials.js';
import { AgentError, AgentErrorCode } from './errors.js';

const text = z.string().min(1);
/** TLS material ModelMesh entries may carry; this agent cannot use it yet, so it is refused. */
const unsupportedTls = ['certificate', 'client_certificate', 'client_key'] as const;

/** `type: s3`: an S3 or S3-compatible store (ModelMesh's s3 provider fields). */
const s3EntrySchema = z.object({
  type: z.literal('s3'),
  access_key_id: text.optional(),
  secret_access_key: text.optional(),
  session_token: text.optional(),
  endpoint_url: z.url().optional(),
  region: text.optional(),
  /** Used with `storage.path` only (ModelMesh's name; KServe's is `bucket`). */
  default_bucket: z.string().optional(),
  bucket: z.string().optional(),
});

/** `type: gcs`: a service-account key's fields inline (ModelMesh's gcs provider). */
const gcsEntrySchema = z.looseObject({
  type: z.literal('gcs'),
  private_key: text,
  client_email: text,
  private_key_id: text.optional(),
  token_uri: z.url().optional(),
  project_id: text.optional(),
});

/** `type: http`: headers (e.g. Authorization) sent to `url`'s origin. */
const httpEntrySchema = z.object({
  type: z.literal('http'),
  url: z.url().optional(),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])).optional(),
});

const entrySchema = z.discriminatedUnion('type', [s3EntrySchema, gcsEntrySchema, httpEntrySchema]);

/** One parsed storage entry. */
export type StorageEntry = z.infer<typeof entrySchema>;
/** The entry types this agent understands. */
export type StorageEntryType = StorageEntry['type'];

function invalid(key: string, what: string): AgentError {
  return new AgentError(
    AgentErrorCode.STORAGE_CONFIG_INVALID,
    `storage-config Secret '${STORAGE_CONFIG_SECRET}', key '${key}': ${what}`,
  );
}

/** Registers every value of an entry that could be secret, before any validation can fail. */
function registerSecrets(value: unknown, redactor: Redactor): void {
  if (typeof value === 'string') redactor.add(value);
  else if (Array.isArray(value)) for (const v of value) registerSecrets(v, redactor);
  else if (value !== null && typeof value === 'object') {
    for (const [field, v] of Object.entries(value)) {
      // Names of the store and its place are not secret, and messages need them readable.
      if (!['type', 'endpoint_url', 'region', 'url', 'default_bucket', 'bucket'].includes(field))
        registerSecrets(v, redactor);
    }
  }
}

/** A zod issue in user terms: the field's name and what it must be, never the value. */
function describeIssue(issue: z.core.$ZodIssue, json: object): string {
  const field = issue.path.map(String).join('.');
  if (issue.code === 'invalid_union' || (field === 'type' && issue.code !== 'too_small'))
    return "field 'type' must be one of s3, gcs, http";
  if (issue.code === 'invalid_type') {
    const top = issue.path[0];
    return typeof top === 'string' && !(top in json)
      ? `field '${field}' is required`
      : `field '${field}' must be ${issue.expected === 'record' ? 'an object' : `a ${issue.expected}`}`;
  }
  if (issue.code === 'invalid_format') return `field '${field}' must be a valid ${issue.format}`;
  if (issue.code === 'too_small') return `field '${field}' must not be empty`;
  return `field '${field}' is invalid`;
}

/**
 * Parses one entry's text. Throws an {@link AgentError} naming the key and the field when it is
 * not a JSON object of a known type, or asks for what this agent cannot do.
 */
export function parseStorageEntry(key: string, raw: string, redactor: Redactor): StorageEntry {
  redactor.add(raw.trim());
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // JSON.parse's own message quotes the text around the error: never pass it on.
    throw invalid(key, 'the value is not valid JSON');
  }
  registerSecrets(json, redactor);
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw invalid(key, 'the value must be a JSON object with a "type" field');
  const parsed = entrySchema.safeParse(json);
  if (!parsed.success)
    throw invalid(key, describeIssue(parsed.error.issues[0] as z.core.$ZodIssue, json));
  const tls = unsupportedTls.find((field) => field in json);
  if (tls !== undefined)
    throw invalid(key, `field '${tls}' (custom TLS) is not supported by this agent yet`);
  const entry = parsed.data;
  if (
    entry.type === 's3' &&
    (entry.access_key_id === undefined) !== (entry.secret_access_key === undefined)
  ) {
    const missing = entry.access_key_id === undefined ? 'access_key_id' : 'secret_access_key';
    throw invalid(key, `field '${missing}' is required with the other access key field`);
  }
  return entry;
}

/** The keys present in the mounted Secret (a mounted Secret's `..`-entries are not keys). */
async function presentKeys(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/**
 * Reads entry `key` from the mounted storage-config folder, afresh at each call. An absent
 * Secret (the volume is optional, so the folder is empty) and an absent key are told apart,
 * so the user knows whether to create the Secret or add the key.
 */
export async function readStorageEntry(
  dir: string,
  key: string,
  redactor: Redactor,
): Promise<StorageEntry> {
  if (!storageKeySchema.safeParse(key).success) throw invalid(key, 'not a valid Secret key');
  let raw: string;
  try {
    raw = await readFile(join(dir, key), 'utf8');
  } catch {
    const keys = await presentKeys(dir);
    if (keys.length === 0) {
      throw new AgentError(
        AgentErrorCode.STORAGE_CONFIG_INVALID,
        `storage key '${key}': the storage-config Secret '${STORAGE_CONFIG_SECRET}' is missing or empty in this namespace; create it with a key '${key}' holding the storage entry`,
      );
    }
    throw invalid(key, `no such key (the Secret has: ${keys.join(', ')})`);
  }
  return parseStorageEntry(key, raw, redactor);
}

/** The storage URI scheme an entry type serves. */
export function entryTypeFor(scheme: 's3' | 'gs' | 'http'): StorageEntryType {
  return scheme === 'gs' ? 'gcs' : scheme;
}

/** Checks an entry fits the URI it is used for (an s3 entry cannot sign an http download). */
export function assertEntryType(
  key: string,
  entry: StorageEntry,
  scheme: 's3' | 'gs' | 'http' | 'file',
  shownUri: string,
): void {
  if (scheme === 'file') {
    throw invalid(key, `'${shownUri}' is a local source and takes no storage key`);
  }
  const wanted = entryTypeFor(scheme);
  if (entry.type !== wanted) {
    throw invalid(key, `it is a ${entry.type} entry, but '${shownUri}' needs a ${wanted} entry`);
  }
}

/** An s3 entry as the S3 source's credentials (region defaults as the SDK's does). */
export function s3CredentialsOf(entry: z.infer<typeof s3EntrySchema>): S3Credentials {
  return {
    region: entry.region ?? 'us-east-1',
    ...(entry.access_key_id === undefined ? {} : { accessKeyId: entry.access_key_id }),
    ...(entry.secret_access_key === undefined ? {} : { secretAccessKey: entry.secret_access_key }),
    ...(entry.session_token === undefined ? {} : { sessionToken: entry.session_token }),
    ...(entry.endpoint_url === undefined ? {} : { endpoint: entry.endpoint_url }),
  };
}

/** A gcs entry as a service-account key document (the fields are a key file's, inline). */
export function gcsCredentialsOf(entry: z.infer<typeof gcsEntrySchema>): GcsCredentials {
  const { type: _type, ...fields } = entry;
  return { serviceAccountJson: JSON.stringify({ type: 'service_account', ...fields }) };
}

/**
 * An http entry's headers for `url`. When the entry names a `url`, the storage URI must lie
 * under it: the headers are credentials for that place and are never sent elsewhere.
 */
export function httpHeadersOf(
  key: string,
  entry: z.infer<typeof httpEntrySchema>,
  url: URL,
  shownUri: string,
): Record<string, string | string[]> {
  if (entry.url !== undefined) {
    const base = new URL(entry.url);
    const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
    const under =
      url.origin === base.origin &&
      (url.pathname === base.pathname || url.pathname.startsWith(basePath));
    if (!under) throw invalid(key, `'${shownUri}' is not under the entry's url`);
  }
  return entry.headers ?? {};
}
