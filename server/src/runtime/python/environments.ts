/**
 * Environment tarballs (MLServer's `parameters.environment_tarball` and `MLSERVER_ENV_TARBALL`,
 * docs/python-runtimes.md): a packed Python environment (conda-pack or venv-pack) is unpacked
 * once per content hash into `environments_dir/<sha256>` and reused by every model that names the
 * same bytes, across restarts. Unpacking is safe (the agent's extractor: no absolute names, no
 * `..`, no entry through a link; only the interpreter links of `bin/` may point outside, at the
 * base Python a venv-pack environment needs), bounded (bytes and entries), serialized per hash
 * in this process and across processes (a lock folder), and published by a rename: a folder
 * without the ready marker is half made and is made again. With `cacheBytes` set, environments no
 * model uses are kept up to that many bytes and the least recently used are removed past it; an
 * environment in use (by this server or by another one sharing the folder, each recorded as a
 * pid file in `<sha256>.users/`) is never removed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extractArchive } from '@tessera/agent/archive-extract';
import type { Logger } from '../../core/ports.js';
import { ErrorCode, ServerError } from '../../errors.js';

export interface EnvironmentsOptions {
  /** Where tarballs are unpacked (`environments_dir`). */
  readonly dir: string;
  /** Bytes one environment may take unpacked, and the tarball itself (`environment_max_bytes`). */
  readonly maxBytes: number;
  /** Entries one tarball may hold (`environment_max_entries`). */
  readonly maxEntries: number;
  /**
   * Bytes of unpacked environments no model uses that are kept for reuse; past it the least
   * recently used are removed (`environments_cache_bytes`). Undefined: all are kept.
   */
  readonly cacheBytes?: number | undefined;
  readonly logger: Logger;
}

/** A model's use of an unpacked environment; `release` when the model unloads. */
export interface EnvironmentLease {
  readonly folder: string;
  release(): Promise<void>;
}

/** What the collector knows of one complete environment. Pure input of {@link toRemove}. */
export interface EnvironmentUse {
  readonly hash: string;
  readonly bytes: number;
  /** When a model last started or stopped using it (ms since the epoch). */
  readonly lastUsedMs: number;
  readonly inUse: boolean;
}

/**
 * The environments to remove so that the unused ones take at most `cacheBytes`: unused ones, least
 * recently used first. Pure, for the unit tests.
 */
export function toRemove(envs: readonly EnvironmentUse[], cacheBytes: number): string[] {
  const unused = envs.filter((e) => !e.inUse).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  let kept = unused.reduce((n, e) => n + e.bytes, 0);
  const out: string[] = [];
  for (const env of unused) {
    if (kept <= cacheBytes) break;
    out.push(env.hash);
    kept -= env.bytes;
  }
  return out;
}

/** The file whose presence means `<dir>/<hash>` is complete. */
export const READY_MARKER = '.tessera-environment';
/** How long conda-pack's `bin/conda-unpack` may run. */
const CONDA_UNPACK_TIMEOUT_MS = 10 * 60_000;
/** How long a load waits for another process that is unpacking the same tarball. */
const LOCK_WAIT_MS = 30 * 60_000;
const LOCK_POLL_MS = 200;

/** An unpacked environment's folder name. */
const HASH_FOLDER = /^[0-9a-f]{64}$/;

/** `bin/python`, `bin/python3`, `bin/python3.11`: the links venv makes to its base interpreter. */
const INTERPRETER_LINK = /^python(\d+(\.\d+)?)?$/;

function failed(message: string): ServerError {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, message);
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** gzip (`.tar.gz`, what conda-pack and venv-pack write by default) or a plain tar, by content. */
async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Unpacks environment tarballs once per content and hands out their folders. */
export class Environments {
  readonly #options: EnvironmentsOptions;
  /** Unpacks in progress in this process, by hash, so concurrent loads share one. */
  readonly #pending = new Map<string, Promise<string>>();

  /** Models of this server using each environment, by hash. */
  readonly #uses = new Map<string, number>();
  /** The collection running now; one at a time. */
  #collecting: Promise<void> = Promise.resolve();

  /** The folder checked once: created private, owned by this user, writable by no one else. */
  #dirChecked: Promise<void> | undefined;

  constructor(options: EnvironmentsOptions) {
    this.#options = options;
  }

  /**
   * Unpacked environments are run, so a folder someone else can write to (the shared temporary
   * folder's default, made by another user) would let them plant code: refused.
   */
  #checkDir(): Promise<void> {
    this.#dirChecked ??= (async () => {
      const { dir } = this.#options;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const info = await stat(dir);
      const uid = process.getuid?.();
      if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) {
        throw failed(
          "environments_dir is not this server's own (another user owns it, or others may write to it); set environments_dir to a private folder",
        );
      }
    })();
    this.#dirChecked.catch(() => {
      this.#dirChecked = undefined;
    });
    return this.#dirChecked;
  }

  /**
   * The unpacked folder of `tarball` (an absolute path; `shownAs` is how the user wrote it, for
   * messages), unpacking it first when no complete copy exists. The use is never released (see
   * {@link acquire}).
   */
  async prepare(tarball: string, shownAs: string): Promise<string> {
    return (await this.acquire(tarball, shownAs)).folder;
  }

  /**
   * As {@link prepare}, held until `release`: an environment is removed by the collector only
   * when no model of any server sharing `environments_dir` holds it.
   */
  async acquire(tarball: string, shownAs: string): Promise<EnvironmentLease> {
    const hash = await this.#hashOf(tarball, shownAs);
    // Recorded before looking for the folder, so a collector that has not seen this use yet
    // removes the folder whole before we look (and we unpack it again), never while we use it.
    await this.#use(hash);
    let folder: string;
    try {
      folder = await this.#shared(tarball, shownAs, hash);
      await this.#touch(hash);
    } catch (error) {
      await this.#unuse(hash);
      throw error;
    }
    // A new environment may push the unused ones past the budget.
    await this.#collect();
    let released = false;
    return {
      folder,
      release: async () => {
        if (released) return;
        released = true;
        await this.#unuse(hash);
        await this.#touch(hash);
        await this.#collect();
      },
    };
  }

  /** Checks the tarball and its folder, and hashes it. */
  async #hashOf(tarball: string, shownAs: string): Promise<string> {
    const { maxBytes } = this.#options;
    let info;
    try {
      info = await stat(tarball);
    } catch {
      throw failed(`environment tarball '${shownAs}' does not exist`);
    }
    if (!info.isFile()) throw failed(`environment tarball '${shownAs}' is not a file`);
    if (info.size > maxBytes) {
      throw failed(
        `environment tarball '${shownAs}' is too large: ${String(info.size)} bytes, more than environment_max_bytes (${String(maxBytes)})`,
      );
    }
    await this.#checkDir();
    return sha256(tarball);
  }

  /** The unpacked folder, shared by concurrent loads of the same hash. */
  #shared(tarball: string, shownAs: string, hash: string): Promise<string> {
    let pending = this.#pending.get(hash);
    if (pending === undefined) {
      pending = this.#unpackOnce(tarball, shownAs, hash).finally(() => {
        this.#pending.delete(hash);
      });
      this.#pending.set(hash, pending);
    }
    return pending;
  }

  async #unpackOnce(tarball: string, shownAs: string, hash: string): Promise<string> {
    const { dir, logger } = this.#options;
    const target = join(dir, hash);
    if (await exists(join(target, READY_MARKER))) {
      logger.info({ environment: hash, tarball: shownAs }, 'reusing an unpacked environment');
      return target;
    }
    const release = await this.#lock(join(dir, `${hash}.lock`));
    try {
      if (await exists(join(target, READY_MARKER))) {
        logger.info({ environment: hash, tarball: shownAs }, 'reusing an unpacked environment');
        return target;
      }
      await this.#unpack(tarball, shownAs, hash, target);
      return target;
    } finally {
      await release();
    }
  }

  async #unpack(tarball: string, shownAs: string, hash: string, target: string): Promise<void> {
    const { dir, maxBytes, maxEntries, logger } = this.#options;
    const partial = join(dir, `.${hash}.${String(process.pid)}.partial`);
    // A folder without the marker is what a crash left behind: made again from the start.
    await rm(target, { recursive: true, force: true });
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial);
    logger.info({ environment: hash, tarball: shownAs }, 'unpacking an environment tarball');
    try {
      let bytes: number;
      try {
        bytes = await extractArchive(tarball, (await isGzip(tarball)) ? 'tgz' : 'tar', partial, {
          maxBytes,
          maxEntries,
          keepExecutable: true,
          replaceFiles: true,
          allowOutsideLink: (segments) =>
            segments.length === 2 &&
            segments[0] === 'bin' &&
            INTERPRETER_LINK.test(segments[1] ?? ''),
        });
      } catch (error) {
        throw failed(
          `environment tarball '${shownAs}': ${extractMessage(error, maxBytes, maxEntries)}`,
        );
      }
      await rename(partial, target);
      await fixPrefixes(target, shownAs);
      await checkInterpreter(target, shownAs);
      // The second line is the size, so the collector need not walk the folder.
      await writeFile(join(target, READY_MARKER), `${hash}\n${String(bytes)}\n`);
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      await rm(target, { recursive: true, force: true });
      throw error;
    }
    logger.info({ environment: hash, tarball: shownAs }, 'environment tarball unpacked');
  }

  #users(hash: string): string {
    return join(this.#options.dir, `${hash}.users`);
  }

  async #use(hash: string): Promise<void> {
    const count = (this.#uses.get(hash) ?? 0) + 1;
    this.#uses.set(hash, count);
    if (count > 1) return;
    const file = join(this.#users(hash), String(process.pid));
    await mkdir(this.#users(hash), { recursive: true });
    // Another server may remove the folder when its last use ends, between the two calls.
    await writeFile(file, '').catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(this.#users(hash), { recursive: true });
      await writeFile(file, '');
    });
  }

  async #unuse(hash: string): Promise<void> {
    const count = (this.#uses.get(hash) ?? 1) - 1;
    if (count > 0) {
      this.#uses.set(hash, count);
      return;
    }
    this.#uses.delete(hash);
    await rm(join(this.#users(hash), String(process.pid)), { force: true });
    // Gone once no server uses it (rmdir refuses a folder another server wrote into).
    await rmdir(this.#users(hash)).catch(() => undefined);
  }

  /** The ready marker's time is the environment's last use (it survives restarts). */
  async #touch(hash: string): Promise<void> {
    const now = new Date();
    await utimes(join(this.#options.dir, hash, READY_MARKER), now, now).catch(() => undefined);
  }

  /** Whether a model of any server uses `hash` (a pid file of a live process; stale ones go). */
  async #inUse(hash: string): Promise<boolean> {
    if ((this.#uses.get(hash) ?? 0) > 0) return true;
    const names = await readdir(this.#users(hash)).catch(() => [] as string[]);
    for (const name of names) {
      const pid = Number(name);
      if (pid !== process.pid && Number.isInteger(pid) && pid > 0 && alive(pid)) return true;
      await rm(join(this.#users(hash), name), { force: true });
    }
    return false;
  }

  /** Removes unused environments past `cacheBytes`; serialized, and failures only logged. */
  #collect(): Promise<void> {
    const { cacheBytes, logger } = this.#options;
    if (cacheBytes === undefined) return Promise.resolve();
    this.#collecting = this.#collecting
      .then(() => this.#collectOnce(cacheBytes))
      .catch((error: unknown) => {
        logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'could not remove unused environments',
        );
      });
    return this.#collecting;
  }

  async #collectOnce(cacheBytes: number): Promise<void> {
    const { dir, logger } = this.#options;
    const envs: EnvironmentUse[] = [];
    for (const hash of (await readdir(dir)).filter((n) => HASH_FOLDER.test(n))) {
      const marker = join(dir, hash, READY_MARKER);
      const info = await stat(marker).catch(() => undefined);
      // No marker: being unpacked (or a crash's leftover, which the next unpack replaces).
      if (info === undefined) continue;
      const [, size] = (await readFile(marker, 'utf8')).split('\n');
      const bytes = Number(size);
      envs.push({
        hash,
        bytes: Number.isFinite(bytes) && bytes > 0 ? bytes : info.size,
        lastUsedMs: info.mtimeMs,
        inUse: await this.#inUse(hash),
      });
    }
    for (const hash of toRemove(envs, cacheBytes)) {
      const release = await this.#lock(join(dir, `${hash}.lock`));
      try {
        // Checked again under the lock: a load may have started using it meanwhile.
        if (await this.#inUse(hash)) continue;
        const doomed = join(dir, `.${hash}.${String(process.pid)}.removing`);
        await rename(join(dir, hash), doomed);
        // A load that found the folder just before the rename recorded its use before looking:
        // seen now, the folder goes back (a load after the rename finds none and waits for the
        // lock, then unpacks again).
        if (await this.#inUse(hash)) {
          await rename(doomed, join(dir, hash));
          continue;
        }
        await rm(doomed, { recursive: true, force: true });
      } finally {
        await release();
      }
      const env = envs.find((e) => e.hash === hash);
      logger.info(
        { environment: hash, bytes: env?.bytes, cacheBytes },
        'removed an unused environment (environments_cache_bytes)',
      );
    }
  }

  /** A lock folder holding the owner's pid; a lock whose owner is gone is taken over. */
  async #lock(lock: string): Promise<() => Promise<void>> {
    const started = Date.now();
    for (;;) {
      try {
        await mkdir(lock);
        await writeFile(join(lock, 'pid'), String(process.pid));
        return () => rm(lock, { recursive: true, force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      const stale =
        Number.isInteger(pid) && pid > 0
          ? !alive(pid)
          : Date.now() -
              (await lstat(lock).then(
                (s) => s.mtimeMs,
                () => 0,
              )) >
            10_000;
      if (stale) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw failed('another server is still unpacking this environment tarball; try again later');
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
}

/** The extractor's reason in the terms of an environment tarball. */
function extractMessage(error: unknown, maxBytes: number, maxEntries: number): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes('expands past')) {
    return `too large: it unpacks to more than environment_max_bytes (${String(maxBytes)} bytes)`;
  }
  if (message.includes('entries')) {
    return `too many files: more than environment_max_entries (${String(maxEntries)})`;
  }
  if (message.includes('not a valid tar archive')) {
    return 'corrupt or truncated: it is not a complete tar or tar.gz archive (pack it again with conda-pack or venv-pack)';
  }
  if (message.startsWith('archive rejected: ')) return `rejected: ${message.slice(18)}`;
  return 'it could not be unpacked';
}

/**
 * Makes the unpacked environment work from its new folder. conda-pack ships `bin/conda-unpack`,
 * which rewrites the prefixes recorded at pack time; it is run with the environment's Python, in
 * the final folder. venv-pack rewrites scripts' shebangs to `/usr/bin/env python` while packing
 * and keeps `pyvenv.cfg` (whose `home` names the base interpreter), so `bin/python` works where it
 * is unpacked and nothing is run.
 */
async function fixPrefixes(root: string, shownAs: string): Promise<void> {
  const unpack = join(root, 'bin', 'conda-unpack');
  if (!(await exists(unpack))) return;
  await new Promise<void>((resolve, reject) => {
    execFile(
      join(root, 'bin', 'python'),
      [unpack],
      { cwd: root, timeout: CONDA_UNPACK_TIMEOUT_MS, maxBuffer: 1024 * 1024 },
      (error, _stdout, stderr) => {
        if (error === null) resolve();
        else {
          const last = stderr.trim().split('\n').pop() ?? '';
          reject(
            failed(
              `environment tarball '${shownAs}': bin/conda-unpack failed (${error.killed ? 'timed out' : last || error.message})`,
            ),
          );
        }
      },
    );
  });
}

/** A clear reason when the environment has no working `bin/python`. */
async function checkInterpreter(root: string, shownAs: string): Promise<void> {
  const python = join(root, 'bin', 'python');
  if (await exists(python)) return;
  const isLink = await lstat(python).then(
    (s) => s.isSymbolicLink(),
    () => false,
  );
  throw failed(
    isLink
      ? `environment tarball '${shownAs}': its bin/python links to a base Python this server does not have (a venv-pack environment needs the same base Python at the same place as where it was packed, see pyvenv.cfg 'home'; a conda-pack environment carries its own)`
      : `environment tarball '${shownAs}' holds no bin/python: is it a conda-pack or venv-pack archive of a Python environment?`,
  );
}
