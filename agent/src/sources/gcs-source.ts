/**
 * gs://bucket/object-or-prefix through the GCS JSON API (https://cloud.google.com/storage/docs/
 * json_api): `objects.get` for an object's metadata, `alt=media` at that generation for its bytes
 * (so metadata and bytes are of one version even while the object is overwritten), and
 * `objects.list` with `prefix` and `pageToken` for a folder. Each object's size is checked and,
 * when the store gives one, its `md5Hash` (composite objects have only crc32c, which Node cannot
 * compute natively; their size is still checked). Requests go through the guarded pool with the
 * agent's connect and stall timeouts; a key that names no object is read as a prefix, as for s3://.
 * Why a small client here rather than @google-cloud/storage: docs/adr/0012-gcs-json-api-client.md.
 */
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { assertHostAllowed } from '../allowlist.js';
import { AgentError, AgentErrorCode } from '../errors.js';
import { safeKeySegments } from '../storage-uri.js';
import { guardedGet, readBody } from './guarded-http.js';
import { writeObject, type PullResult, type PullTarget } from './transfer.js';

/** Google's endpoint for both the JSON and the XML API. */
export const GCS_DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/** Where and as whom the JSON API is called. */
export interface GcsAccess {
  /** `http(s)://host[:port][/base]`: Google's, or an emulator's. */
  readonly endpoint: string;
  /** An OAuth 2.0 access token; anonymous (public buckets) when absent. */
  readonly token?: string;
}

/** The object metadata the agent uses (`objects` resource; sizes are decimal strings). */
interface GcsObject {
  readonly name: string;
  readonly size?: string;
  readonly md5Hash?: string;
  readonly generation?: string;
}

/** A list page's metadata is small; a bigger answer is not the JSON API. */
const MAX_METADATA_BYTES = 32 * 1024 * 1024;

/** Normalises an endpoint setting (no scheme → https) and applies the address allowlist. */
export function gcsEndpoint(setting: string | undefined): string {
  const raw = setting ?? GCS_DEFAULT_ENDPOINT;
  const withScheme = /^https?:\/\//.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new AgentError(
      AgentErrorCode.INVALID_REQUEST,
      'the storage Secret key GCS_ENDPOINT is not an http(s) URL',
    );
  }
  assertHostAllowed(url.hostname, []);
  return url.href.replace(/\/+$/, '');
}

class GcsClient {
  readonly #access: GcsAccess;
  readonly #bucket: string;
  readonly #target: PullTarget;

  constructor(access: GcsAccess, bucket: string, target: PullTarget) {
    this.#access = access;
    this.#bucket = bucket;
    this.#target = target;
  }

  #url(path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(
      `${this.#access.endpoint}/storage/v1/b/${encodeURIComponent(this.#bucket)}${path}`,
    );
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url;
  }

  async #get(url: URL, where: string): Promise<IncomingMessage> {
    const headers: Record<string, string> =
      this.#access.token === undefined ? {} : { authorization: `Bearer ${this.#access.token}` };
    const response = await guardedGet(url, this.#target, headers);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    throw await statusError(response, status, where);
  }

  async #json<T>(url: URL, where: string): Promise<T> {
    const body = await readBody(await this.#get(url, where), MAX_METADATA_BYTES);
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new AgentError(AgentErrorCode.PULL_FAILED, `${where}: the store's answer is not JSON`);
    }
  }

  /** The object's metadata, or undefined when no object has that name. */
  async object(key: string, where: string): Promise<GcsObject | undefined> {
    try {
      return await this.#json<GcsObject>(this.#url(`/o/${encodeURIComponent(key)}`), where);
    } catch (error) {
      if (error instanceof AgentError && error.code === AgentErrorCode.ARTEFACT_NOT_FOUND) {
        return undefined;
      }
      throw error;
    }
  }

  /** Every object under `prefix` (folder placeholders ending in `/` skipped). */
  async list(prefix: string, where: string): Promise<GcsObject[]> {
    const objects: GcsObject[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#json<{ items?: GcsObject[]; nextPageToken?: string }>(
        this.#url('/o', {
          prefix,
          pageToken,
          fields: 'items(name,size,md5Hash,generation),nextPageToken',
        }),
        where,
      );
      for (const item of page.items ?? []) if (!item.name.endsWith('/')) objects.push(item);
      pageToken = page.nextPageToken === '' ? undefined : page.nextPageToken;
    } while (pageToken !== undefined);
    return objects;
  }

  /** Downloads one object into `path` and checks it against its metadata. */
  async download(object: GcsObject, path: string): Promise<{ bytes: number; sha256: string }> {
    const where = `gs://${this.#bucket}/${object.name}`;
    const url = this.#url(`/o/${encodeURIComponent(object.name)}`, {
      alt: 'media',
      generation: object.generation,
    });
    const written = await writeObject(await this.#get(url, where), path, this.#target);
    if (object.size !== undefined && String(written.bytes) !== object.size) {
      throw new AgentError(
        AgentErrorCode.VERIFY_FAILED,
        `${where}: size mismatch: the store says ${object.size} bytes, downloaded ${written.bytes}`,
      );
    }
    if (object.md5Hash !== undefined && written.md5 !== object.md5Hash) {
      throw new AgentError(
        AgentErrorCode.VERIFY_FAILED,
        `${where}: md5 mismatch: the store says ${object.md5Hash}, downloaded ${written.md5}`,
      );
    }
    return written;
  }
}

/** A non-2xx JSON API answer in user terms, with Google's own one-line reason when it gives one. */
async function statusError(
  response: IncomingMessage,
  status: number,
  where: string,
): Promise<AgentError> {
  let reason = '';
  try {
    const body = JSON.parse(await readBody(response, 64 * 1024)) as {
      error?: { message?: unknown };
    };
    if (typeof body.error?.message === 'string') reason = `: ${body.error.message.slice(0, 300)}`;
  } catch {
    // no JSON error document: the status alone says it
  }
  if (status === 404) {
    return new AgentError(AgentErrorCode.ARTEFACT_NOT_FOUND, `${where} was not found`);
  }
  if (status === 401 || status === 403) {
    return new AgentError(
      AgentErrorCode.ACCESS_DENIED,
      `access to ${where} was denied (HTTP ${status}${reason}): check the storage credentials`,
    );
  }
  return new AgentError(AgentErrorCode.PULL_FAILED, `${where}: the store answered HTTP ${status}`);
}

/** Downloads an object, or every object under a prefix, into the staging folder. */
export async function pullGcs(
  access: GcsAccess,
  bucket: string,
  key: string,
  target: PullTarget,
): Promise<PullResult> {
  const where = `gs://${bucket}/${key}`;
  const client = new GcsClient(access, bucket, target);
  if (key !== '' && !key.endsWith('/')) {
    const object = await client.object(key, where);
    if (object !== undefined) {
      const name = safeKeySegments(key).pop() ?? 'artefact';
      const written = await client.download(object, join(target.dir, name));
      return { kind: 'file', name, ...written };
    }
  }
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const objects = await client.list(prefix, where);
  if (objects.length === 0) {
    throw new AgentError(AgentErrorCode.ARTEFACT_NOT_FOUND, `${where} was not found`);
  }
  let bytes = 0;
  for (const object of objects) {
    const segments = safeKeySegments(object.name.slice(prefix.length));
    bytes += (await client.download(object, join(target.dir, ...segments))).bytes;
  }
  return { kind: 'folder', bytes, files: objects.length };
}
