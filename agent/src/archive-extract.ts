/**
 * Safe extraction of tar, tar.gz/tgz and zip artefacts into an empty folder. Rejects — never
 * silently rewrites — entries that could write outside the folder: absolute names, `..` segments,
 * hard links naming such paths, and symbolic links whose target is absolute or has a `..`
 * segment (a `..` after a link that points into a subfolder escapes even when the text looks
 * inside, so only links that point downwards are kept). Bombs are bounded by the total bytes
 * written and the number of entries, counted while writing, not trusted from headers.
 */
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import tarStream, { type Extract } from 'tar-stream';
import yauzl from 'yauzl';
import { AgentError, AgentErrorCode } from './errors.js';

/** Limits of one extraction. */
export interface ExtractLimits {
  readonly maxBytes: number;
  readonly maxEntries: number;
  /**
   * Symbolic links (tar only) that may point outside the folder, e.g. a virtualenv's
   * `bin/python3` naming its base interpreter: called with the link's segments and target. No
   * entry may go through any link (checked on disk), so nothing is written outside the folder.
   */
  readonly allowOutsideLink?: (segments: readonly string[], target: string) => boolean;
  /** Keep tar entries' executable bits (0o755 instead of 0o644), e.g. a packed environment's `bin/`. */
  readonly keepExecutable?: boolean;
  /**
   * A later tar entry for a file already extracted replaces it, as tar itself does (venv-pack 0.2
   * writes `pyvenv.cfg` twice); only a regular file is replaced, never a link or a folder.
   */
  readonly replaceFiles?: boolean;
}

/** The archive kind a file name announces, or undefined for a plain file. */
export function archiveKind(fileName: string): 'tar' | 'tgz' | 'zip' | undefined {
  const name = fileName.toLowerCase();
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) return 'tgz';
  if (name.endsWith('.tar')) return 'tar';
  if (name.endsWith('.zip')) return 'zip';
  return undefined;
}

/** One tar entry as tar-stream yields it. */
type TarEntry = Extract extends AsyncIterable<infer E> ? E : never;

function rejected(message: string): AgentError {
  return new AgentError(AgentErrorCode.ARCHIVE_REJECTED, `archive rejected: ${message}`);
}

/** The segments of an entry name, or a rejection when it could leave the folder. */
export function entrySegments(name: string): string[] {
  const clean = name.replace(/^\.\/+/, '');
  if (clean.startsWith('/') || /^[A-Za-z]:[\\/]/.test(clean) || clean.includes('\\')) {
    throw rejected(`entry '${shown(name)}' has an absolute path`);
  }
  const segments = clean.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw rejected(`entry '${shown(name)}' contains '..'`);
  if (segments.some((s) => s.includes('\0'))) throw rejected('an entry name contains NUL');
  return segments;
}

/** Whether a symbolic link target stays inside: relative and never climbing. */
export function assertLinkTarget(entry: string, target: string): void {
  if (target.startsWith('/') || target.includes('\\') || target.split('/').includes('..')) {
    throw rejected(`link '${shown(entry)}' points outside the archive ('${shown(target)}')`);
  }
}

/**
 * Rejects an entry whose parent folders include a symbolic link already extracted: with links
 * that point outside allowed, going through one (or through a chain that leads to one) would
 * write outside the folder, whatever order the archive lists them in.
 */
async function assertNoLinkOnTheWay(dest: string, entry: string, segments: readonly string[]) {
  for (let i = 1; i < segments.length; i++) {
    let stat;
    try {
      stat = await lstat(join(dest, ...segments.slice(0, i)));
    } catch {
      return; // not there yet: mkdir creates real folders from here on
    }
    if (stat.isSymbolicLink()) {
      throw rejected(
        `entry '${shown(entry)}' goes through the link '${shown(segments.slice(0, i).join('/'))}'`,
      );
    }
  }
}

const shown = (name: string): string => (name.length > 120 ? `${name.slice(0, 120)}…` : name);

/** Counts bytes and entries across one archive; throws when a limit is passed. */
class Budget {
  bytes = 0;
  entries = 0;

  constructor(readonly limits: ExtractLimits) {}

  entry(): void {
    if (++this.entries > this.limits.maxEntries) {
      throw rejected(`more than ${this.limits.maxEntries} entries`);
    }
  }

  meter(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.bytes += chunk.length;
        if (this.bytes > this.limits.maxBytes) {
          done(rejected(`it expands past ${this.limits.maxBytes} bytes`));
          return;
        }
        done(null, chunk);
      },
    });
  }
}

async function writeEntry(
  dest: string,
  segments: string[],
  stream: Readable | AsyncIterable<Buffer>,
  budget: Budget,
  mode = 0o644,
): Promise<void> {
  const path = join(dest, ...segments);
  await mkdir(dirname(path), { recursive: true });
  if (budget.limits.replaceFiles === true) {
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isFile() === true) await unlink(path);
  }
  // 'wx': never write through something already there (a link planted by an earlier entry).
  await pipeline(stream, budget.meter(), createWriteStream(path, { flags: 'wx', mode }));
}

/**
 * Extracts `archive` (of `kind`) into the empty folder `dest`; resolves with the bytes written
 * (a file listed twice counts twice).
 */
export async function extractArchive(
  archive: string,
  kind: 'tar' | 'tgz' | 'zip',
  dest: string,
  limits: ExtractLimits,
): Promise<number> {
  const budget = new Budget(limits);
  if (kind === 'zip') await extractZip(archive, dest, budget);
  else await extractTar(archive, kind === 'tgz', dest, budget);
  return budget.bytes;
}

async function extractTar(archive: string, gzip: boolean, dest: string, budget: Budget) {
  const extract = tarStream.extract();
  const done = (async () => {
    for await (const entry of extract) {
      budget.entry();
      await tarEntry(entry, dest, budget);
    }
  })();
  const source = createReadStream(archive);
  const feed = gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract);
  try {
    await Promise.all([feed, done]);
  } catch (error) {
    extract.destroy();
    source.destroy();
    if (error instanceof AgentError) throw error;
    throw rejected('it is not a valid tar archive');
  }
}

async function tarEntry(entry: TarEntry, dest: string, budget: Budget): Promise<void> {
  const { name, type, linkname } = entry.header;
  const segments = entrySegments(name);
  if (budget.limits.allowOutsideLink !== undefined)
    await assertNoLinkOnTheWay(dest, name, segments);
  const path = join(dest, ...segments);
  switch (type) {
    case 'file':
    case 'contiguous-file':
      if (segments.length === 0) throw rejected('a file entry has an empty name');
      await writeEntry(
        dest,
        segments,
        entry as unknown as AsyncIterable<Buffer>,
        budget,
        budget.limits.keepExecutable === true && (entry.header.mode & 0o111) !== 0 ? 0o755 : 0o644,
      );
      return;
    case 'directory':
      await mkdir(path, { recursive: true });
      break;
    case 'symlink':
      if (budget.limits.allowOutsideLink?.(segments, linkname) !== true) {
        assertLinkTarget(name, linkname);
      }
      await mkdir(dirname(path), { recursive: true });
      await symlink(linkname, path);
      break;
    case 'link': {
      const targetSegments = entrySegments(linkname);
      if (budget.limits.allowOutsideLink !== undefined) {
        await assertNoLinkOnTheWay(dest, linkname, targetSegments);
      }
      const target = join(dest, ...targetSegments);
      await mkdir(dirname(path), { recursive: true });
      await link(target, path);
      break;
    }
    case 'block-device':
    case 'character-device':
    case 'fifo':
    default:
      throw rejected(`entry '${shown(name)}' is a ${type}, which artefacts may not hold`);
  }
  entry.resume();
  await new Promise<void>((resolve) => {
    entry.once('end', resolve);
  });
}

function openZip(archive: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // validateEntrySizes: yauzl checks the bytes inflated against the declared size.
    yauzl.open(
      archive,
      { lazyEntries: true, validateEntrySizes: true, strictFileNames: true },
      (error, zip) => {
        if (error !== null) reject(rejected('it is not a valid zip archive'));
        else resolve(zip);
      },
    );
  });
}

async function extractZip(archive: string, dest: string, budget: Budget): Promise<void> {
  const zip = await openZip(archive);
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (error: unknown): void => {
        reject(error instanceof AgentError ? error : rejected('it is not a valid zip archive'));
      };
      zip.on('error', fail);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        zipEntry(zip, entry, dest, budget).then(() => {
          zip.readEntry();
        }, fail);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function zipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, dest: string, budget: Budget) {
  budget.entry();
  const segments = entrySegments(entry.fileName);
  if (entry.fileName.endsWith('/')) {
    await mkdir(join(dest, ...segments), { recursive: true });
    return;
  }
  // Unix mode bits live in the high half of the external attributes (made on Unix).
  if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) {
    throw rejected(`entry '${shown(entry.fileName)}' is a link; zip artefacts may not hold links`);
  }
  if (entry.uncompressedSize > budget.limits.maxBytes) {
    throw rejected(`it expands past ${budget.limits.maxBytes} bytes`);
  }
  const stream = await new Promise<Readable>((resolve, reject) => {
    zip.openReadStream(entry, (error, s) => {
      if (error !== null) reject(rejected('an entry could not be read'));
      else resolve(s);
    });
  });
  await writeEntry(dest, segments, stream, budget);
}
