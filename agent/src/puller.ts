/**
 * One pull: a storage URI → a complete, verified, extracted artefact folder. Chooses the source
 * by scheme, stages into a fresh folder, checks size and sha256 when the request gives them,
 * extracts archives safely, and only then renames the result into place.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentLoadParameters } from '@tessera/contract';
import { archiveKind, extractArchive } from './archive-extract.js';
import { ArtefactStore, folderBytes } from './artefact-store.js';
import type { AgentSettings } from './config.js';
import type { CredentialStore } from './credentials.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { pullFile } from './sources/file-source.js';
import { pullHttp } from './sources/http-source.js';
import { pullFromGcs } from './sources/gcs-pull.js';
import { pullS3, s3Client } from './sources/s3-source.js';
import {
  assertEntryType,
  httpHeadersOf,
  gcsCredentialsOf,
  s3CredentialsOf,
  type StorageEntry,
} from './storage-config.js';
import type { PullResult, PullTarget } from './sources/transfer.js';
import { displayUri, parseStorageUri, type StorageLocation } from './storage-uri.js';

/** Progress of one pull, for the index and metrics. */
export interface PullProgress {
  bytes: number;
}

/** Dependencies of the puller. */
export interface PullerDeps {
  readonly settings: AgentSettings;
  readonly store: ArtefactStore;
  readonly credentials: CredentialStore;
}

/** Pulls artefacts into the store. */
export class Puller {
  readonly #deps: PullerDeps;
  /** Aborted at shutdown, so an in-flight pull (even a stalled one) never holds the exit. */
  readonly #shutdown = new AbortController();

  constructor(deps: PullerDeps) {
    this.#deps = deps;
  }

  /** Aborts every pull in flight (SIGTERM): their loads fail at once instead of at a timeout. */
  abortAll(): void {
    this.#shutdown.abort();
  }

  /** The scheme label of a URI, for metrics (parses, so it also validates). */
  scheme(uri: string): StorageLocation['scheme'] {
    return parseStorageUri(uri, this.#deps.settings.pvc_root).scheme;
  }

  /** Pulls `params.storage_uri` into artefact `key`; resolves with its size on disk. */
  async pull(key: string, params: AgentLoadParameters, progress: PullProgress): Promise<number> {
    const { settings, store } = this.#deps;
    const location = parseStorageUri(params.storage_uri, settings.pvc_root);
    const staging = await store.stage();
    const signal = this.#shutdown.signal;
    const target: PullTarget = {
      dir: staging.raw,
      stallTimeoutMs: settings.stall_timeout_ms,
      connectTimeoutMs: settings.connect_timeout_ms,
      signal,
      onBytes: (n) => {
        progress.bytes += n;
      },
    };
    try {
      const result = await this.#fetch(location, params, target).catch((error: unknown) => {
        if (error instanceof AgentError) throw error;
        throw new AgentError(
          AgentErrorCode.PULL_FAILED,
          `the transfer of '${displayUri(params.storage_uri)}' broke off`,
          { cause: error },
        );
      });
      verify(result, params);
      const content = await this.#unpack(result, staging.raw, staging.content);
      const size = await folderBytes(content);
      await store.commit(content, key);
      return size;
    } finally {
      await staging.discard();
    }
  }

  /** The storage-config entry a load names, checked against the URI's scheme; read per pull. */
  async #entry(location: StorageLocation, params: AgentLoadParameters) {
    const key = params.storage_key;
    if (key === undefined) return undefined;
    const entry = await this.#deps.credentials.storageEntry(key);
    assertEntryType(key, entry, location.scheme, displayUri(params.storage_uri));
    return { key, entry };
  }

  async #fetch(
    location: StorageLocation,
    params: AgentLoadParameters,
    target: PullTarget,
  ): Promise<PullResult> {
    const { settings, credentials } = this.#deps;
    const uri = params.storage_uri;
    const named: { key: string; entry: StorageEntry } | undefined = await this.#entry(
      location,
      params,
    );
    switch (location.scheme) {
      case 'http': {
        const headers =
          named?.entry.type === 'http'
            ? httpHeadersOf(named.key, named.entry, location.url, displayUri(uri))
            : {};
        return pullHttp(
          location.url,
          { allowedHosts: settings.allowed_hosts, maxRedirects: settings.max_redirects, headers },
          target,
        );
      }
      case 's3': {
        const creds =
          named?.entry.type === 's3' ? s3CredentialsOf(named.entry) : await credentials.s3();
        const client = s3Client(creds, target);
        return pullS3(client, location.bucket, location.key, target);
      }
      case 'gs': {
        const creds =
          named?.entry.type === 'gcs' ? gcsCredentialsOf(named.entry) : await credentials.gcs();
        return pullFromGcs(creds, location.bucket, location.key, target, (s) => {
          credentials.remember(s);
        });
      }
      case 'file':
        return pullFile(location.path, settings.allowed_roots, displayUri(uri), target);
    }
  }

  /** Extracts a single archive; anything else is used as downloaded. */
  async #unpack(result: PullResult, raw: string, content: string): Promise<string> {
    const kind = result.kind === 'file' ? archiveKind(result.name) : undefined;
    if (result.kind !== 'file' || kind === undefined) return raw;
    const archive = join(raw, result.name);
    await extractArchive(archive, kind, content, {
      maxBytes: this.#deps.settings.max_extracted_bytes,
      maxEntries: this.#deps.settings.max_archive_entries,
    });
    await rm(archive, { force: true });
    return content;
  }
}

function verify(result: PullResult, params: AgentLoadParameters): void {
  if (params.size_bytes !== undefined && result.bytes !== params.size_bytes) {
    throw new AgentError(
      AgentErrorCode.VERIFY_FAILED,
      `size mismatch: expected ${params.size_bytes} bytes, downloaded ${result.bytes}`,
    );
  }
  if (params.sha256 === undefined) return;
  if (result.kind !== 'file') {
    throw new AgentError(
      AgentErrorCode.INVALID_REQUEST,
      'sha256 can only be checked for a single object, not a prefix or folder',
    );
  }
  if (result.sha256 !== params.sha256.toLowerCase()) {
    throw new AgentError(
      AgentErrorCode.VERIFY_FAILED,
      `sha256 mismatch: expected ${params.sha256.toLowerCase()}, downloaded ${result.sha256}`,
    );
  }
}
