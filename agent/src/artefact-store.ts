/**
 * The agent's files on the shared model volume, all under one hidden folder the server never
 * scans (its repository skips dot-folders):
 *
 *   <model_dir>/.tessera-agent/staging/<id>/   a pull in progress; discarded on start
 *   <model_dir>/.tessera-agent/artefacts/<key>/ a complete artefact (renamed into place whole)
 *
 * An artefact appears under artefacts/ only by one rename of a finished staging folder, so the
 * server can never read half an artefact, and an agent restart finds either nothing or all of it.
 * Artefacts no model uses are kept in a size-bounded LRU (lru-cache) for quick reloads.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';

/** The hidden folder on the model volume that holds everything the agent writes but settings. */
export const AGENT_FOLDER = '.tessera-agent';

/** A staging folder for one pull. */
export interface Staging {
  /** Where the source writes what it downloads. */
  readonly raw: string;
  /** Where an archive is extracted (or the raw folder, when nothing was extracted). */
  readonly content: string;
  discard(): Promise<void>;
}

export class ArtefactStore {
  readonly root: string;
  readonly #staging: string;
  readonly #artefacts: string;
  readonly #unused: LRUCache<string, number>;
  readonly #taking = new Set<string>();

  constructor(modelDir: string, cacheBytes: number) {
    this.root = join(modelDir, AGENT_FOLDER);
    this.#staging = join(this.root, 'staging');
    this.#artefacts = join(this.root, 'artefacts');
    this.#unused = new LRUCache<string, number>({
      maxSize: Math.max(cacheBytes, 1),
      sizeCalculation: (size) => Math.max(size, 1),
      dispose: (_size, key, reason) => {
        if (reason !== 'set' && !this.#taking.has(key)) void this.remove(key);
      },
    });
  }

  /** Discards half-done staging folders (an earlier agent died mid-pull) and orphans. */
  async init(inUse: ReadonlySet<string>): Promise<void> {
    await rm(this.#staging, { recursive: true, force: true });
    await mkdir(this.#staging, { recursive: true });
    await mkdir(this.#artefacts, { recursive: true });
    for (const key of await readdir(this.#artefacts)) {
      if (!inUse.has(key)) await this.remove(key);
    }
  }

  /** The artefact key of a storage URI. */
  static key(storageUri: string): string {
    return createHash('sha256').update(storageUri).digest('hex').slice(0, 32);
  }

  dir(key: string): string {
    return join(this.#artefacts, key);
  }

  /** Whether a complete artefact exists; takes it out of the unused cache. */
  async take(key: string): Promise<boolean> {
    this.#taking.add(key);
    try {
      this.#unused.delete(key);
    } finally {
      this.#taking.delete(key);
    }
    return stat(this.dir(key)).then(
      () => true,
      () => false,
    );
  }

  async stage(): Promise<Staging> {
    const base = join(this.#staging, randomUUID());
    const raw = join(base, 'raw');
    await mkdir(raw, { recursive: true });
    return {
      raw,
      content: join(base, 'content'),
      discard: () => rm(base, { recursive: true, force: true }),
    };
  }

  /** Renames finished content into place as artefact `key`. */
  async commit(content: string, key: string): Promise<void> {
    await rm(this.dir(key), { recursive: true, force: true });
    await rename(content, this.dir(key));
  }

  /** A model stopped using `key`: keep it within the cache budget, else delete it. */
  async release(key: string, sizeBytes: number, cacheBytes: number): Promise<void> {
    if (cacheBytes > 0 && sizeBytes <= cacheBytes) this.#unused.set(key, sizeBytes);
    else await this.remove(key);
  }

  async remove(key: string): Promise<void> {
    await rm(this.dir(key), { recursive: true, force: true });
  }
}

/** Total bytes of the files under a folder. */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
