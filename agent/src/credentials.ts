/**
 * Storage credentials, read only from the mounted credentials folder (one Secret key per file,
 * names in the contract's CREDENTIAL_FILES), never from the environment: the server container
 * shares the pod's env conventions but never mounts this folder. Every secret value read is
 * registered with the {@link Redactor}, so it can never reach a message, a log line or a metric.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CREDENTIAL_FILES, STORAGE_CONFIG_DIR } from '@tessera/contract';
import { readStorageEntry, type StorageEntry } from './storage-config.js';

/** Replaces every known secret value in text with `***`. */
export class Redactor {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short values would redact ordinary words; secrets this short are not secrets.
    if (secret !== undefined && secret.length >= 4) this.#secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }
}

/** S3 (or S3-compatible) access settings. */
export interface S3Credentials {
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
  readonly region: string;
  readonly endpoint?: string;
}

/** GCS access settings: a service-account key, HMAC keys (XML API), or neither (anonymous). */
export interface GcsCredentials {
  /** The key file's text, unparsed: the gs:// source parses it and names what is wrong. */
  readonly serviceAccountJson?: string;
  readonly hmac?: { readonly accessId: string; readonly secret: string };
  readonly endpoint?: string;
}

async function readKey(dir: string, name: string): Promise<string | undefined> {
  try {
    const value = (await readFile(join(dir, name), 'utf8')).trim();
    return value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * Reads the credentials folder (a model's own Secret) and the storage-config folder (the
 * namespace's named entries) afresh on every pull, so a rotated Secret is used at once.
 */
export class CredentialStore {
  readonly #dir: string;
  readonly #redactor: Redactor;
  readonly #storageConfigDir: string;

  constructor(dir: string, redactor: Redactor, storageConfigDir: string = STORAGE_CONFIG_DIR) {
    this.#dir = dir;
    this.#redactor = redactor;
    this.#storageConfigDir = storageConfigDir;
  }

  /** The storage-config entry `key` (a load's `storage_key`), its secrets registered. */
  storageEntry(key: string): Promise<StorageEntry> {
    return readStorageEntry(this.#storageConfigDir, key, this.#redactor);
  }

  /** Registers a secret obtained with the credentials (an access token) with the redactor. */
  remember(secret: string): void {
    this.#redactor.add(secret);
  }

  async s3(): Promise<S3Credentials> {
    const f = CREDENTIAL_FILES;
    const [id, secret, token, region, endpoint, https] = await Promise.all(
      [
        f.s3AccessKeyId,
        f.s3SecretAccessKey,
        f.s3SessionToken,
        f.s3Region,
        f.s3Endpoint,
        f.s3UseHttps,
      ].map((name) => readKey(this.#dir, name)),
    );
    for (const value of [id, secret, token]) this.#redactor.add(value);
    return {
      region: region ?? 'us-east-1',
      ...(id === undefined ? {} : { accessKeyId: id }),
      ...(secret === undefined ? {} : { secretAccessKey: secret }),
      ...(token === undefined ? {} : { sessionToken: token }),
      ...(endpoint === undefined ? {} : { endpoint: withScheme(endpoint, https) }),
    };
  }

  async gcs(): Promise<GcsCredentials> {
    const f = CREDENTIAL_FILES;
    const [key, accessId, secret, endpoint] = await Promise.all(
      [f.gcsServiceAccount, f.gcsHmacAccessId, f.gcsHmacSecret, f.gcsEndpoint].map((name) =>
        readKey(this.#dir, name),
      ),
    );
    for (const value of [key, accessId, secret]) this.#redactor.add(value);
    if (key !== undefined) for (const value of keySecrets(key)) this.#redactor.add(value);
    return {
      ...(key === undefined ? {} : { serviceAccountJson: key }),
      ...(accessId === undefined || secret === undefined ? {} : { hmac: { accessId, secret } }),
      ...(endpoint === undefined ? {} : { endpoint }),
    };
  }
}

/**
 * The secret parts of a service-account key file, for the redactor: the PEM and each of its
 * lines (a message could quote one line), and the key id. An unparsable file yields nothing more
 * than the whole text, which the caller registers anyway.
 */
function keySecrets(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const { private_key: pem, private_key_id: id } = parsed as Record<string, unknown>;
  const out: string[] = [];
  if (typeof pem === 'string') {
    out.push(pem, ...pem.split('\n').filter((line) => !line.startsWith('-----')));
  }
  if (typeof id === 'string') out.push(id);
  return out;
}

/** KServe's S3_ENDPOINT may omit the scheme; S3_USE_HTTPS=0 then means plain HTTP. */
function withScheme(endpoint: string, useHttps: string | undefined): string {
  if (/^https?:\/\//.test(endpoint)) return endpoint;
  const plain = useHttps === '0' || useHttps?.toLowerCase() === 'false';
  return `${plain ? 'http' : 'https'}://${endpoint}`;
}
