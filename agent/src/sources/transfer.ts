/**
 * Writing one downloaded object to the staging folder: bytes are counted (progress, metrics),
 * hashed (sha256 for the request's checksum, md5 for the store's, e.g. GCS `md5Hash`) and watched for stalls — a peer that sends nothing for
 * `stallTimeoutMs` fails the pull instead of hanging it forever.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgentError, AgentErrorCode } from '../errors.js';

/** Where and how a source writes what it pulls. */
export interface PullTarget {
  /** The empty staging folder to write into. */
  readonly dir: string;
  readonly stallTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly signal: AbortSignal;
  /** Called with every chunk's size. */
  onBytes(bytes: number): void;
}

/** What a source wrote: one object (verifiable) or a folder of objects. */
export type PullResult =
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly bytes: number;
      readonly sha256: string;
    }
  | { readonly kind: 'folder'; readonly bytes: number; readonly files: number };

/** A stalled transfer: nothing arrived for too long. */
export function stalled(ms: number): AgentError {
  return new AgentError(AgentErrorCode.PULL_TIMEOUT, `the transfer stalled: no data for ${ms} ms`);
}

/** What one written object was: its size, hex sha256 and base64 md5. */
export interface WrittenObject {
  readonly bytes: number;
  readonly sha256: string;
  readonly md5: string;
}

/** Streams `body` into `path`; resolves with its size and digests. */
export async function writeObject(
  body: Readable,
  path: string,
  target: PullTarget,
): Promise<WrittenObject> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('sha256');
  const md5 = createHash('md5');
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const watch = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      hash.update(chunk);
      md5.update(chunk);
      target.onBytes(chunk.length);
      arm();
      done(null, chunk);
    },
  });
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      watch.destroy(stalled(target.stallTimeoutMs));
    }, target.stallTimeoutMs);
  };
  arm();
  try {
    await pipeline(body, watch, createWriteStream(path, { flags: 'wx' }), {
      signal: target.signal,
    });
  } finally {
    clearTimeout(timer);
  }
  return { bytes, sha256: hash.digest('hex'), md5: md5.digest('base64') };
}
