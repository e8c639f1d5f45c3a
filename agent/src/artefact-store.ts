/**
 * The agent's files on the shared model volume, all under one hidden folder the server never
 * scans (its repository skips dot-folders):
 *
 *   <model_dir>/.tessera-agent/staging/<id>/   a pull in progress; discarded on start
 *   <model_dir>/.tessera-agent/artefacts/<key>/ a complete artefact (renamed into place whole)
 *
 * An artefact appears under artefacts/ only by one rename of a finished staging folder, so the
 * server can never read half an artefact, and an agent restart finds either nothing or all of it.
 * Artefacts no model uses are kept in a size-bounded LRU (lru-cache) for quick reloads; an
 * evicted one is deleted before the unload that evicted it returns.
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

/** The artefacts on the model volume, and the LRU of those no model uses. */
export class ArtefactStore {
  readonly root: string;
  readonly #staging: string;
  readonly #artefacts: string;
  readonly #cacheBytes: number;
  /** Unused artefacts by key, valued (and bounded) by their size on disk. */
  readonly #unused: LRUCache<string, number>;
  /** Keys the LRU evicted; {@link release} deletes their folders before it returns. */
  readonly #evicted: string[] = [];

  constructor(modelDir: string, cacheBytes: number) {
    this.root = join(modelDir, AGENT_FOLDER);
    this.#staging = join(this.root, 'staging');
    this.#artefacts = join(this.root, 'artefacts');
    this.#cacheBytes = cacheBytes;
    this.#unused = new LRUCache<string, number>({
      maxSize: Math.max(cacheBytes, 1),
      sizeCalculation: (size) => Math.max(size, 1),
      // Only an eviction frees disk: `delete` is take() handing the artefact back to a model.
      dispose: (_size, key, reason) => {
        if (reason === 'evict') this.#evicted.push(key);
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

  /**
   * Takes a complete artefact out of the unused cache for a model to use again; resolves with
   * its size on disk, or undefined when there is none (it must be pulled).
   */
  async take(key: string): Promise<number | undefined> {
    const cached = this.#unused.get(key);
    this.#unused.delete(key);
    const exists = await stat(this.dir(key)).then(
      () => true,
      () => false,
    );
    if (!exists) return undefined;
    return cached ?? (await folderBytes(this.dir(key)));
  }

  /** The size on disk of a complete artefact (0 when it is gone). */
  async size(key: string): Promise<number> {
    return folderBytes(this.dir(key)).catch(() => 0);
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

  /**
   * A model stopped using `key`: keep it within the cache budget (evicting the least recently
   * released artefacts past it), else delete it. Resolves once the evicted folders are gone.
   */
  async release(key: string, sizeBytes: number): Promise<void> {
    if (this.#cacheBytes > 0 && sizeBytes <= this.#cacheBytes) this.#unused.set(key, sizeBytes);
    else await this.remove(key);
    for (const evicted of this.#evicted.splice(0)) await this.remove(evicted);
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
