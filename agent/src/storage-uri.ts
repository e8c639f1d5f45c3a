/**
 * Parses a `storage_uri` into what a source needs. Schemes follow KServe's storage-initializer:
 * `http(s)://`, `s3://bucket/key-or-prefix`, `gs://bucket/prefix`, `pvc://claim/path`, and
 * `file://` or an absolute local path. Messages quote the URI without its query string or
 * user-info, which may carry credentials (pre-signed URLs).
 */
import { isAbsolute, join, normalize } from 'node:path';
import { displayStorageUri } from '@tessera/contract';
import { AgentError, AgentErrorCode } from './errors.js';

/** A parsed storage URI. */
export type StorageLocation =
  | { readonly scheme: 'http'; readonly url: URL }
  | { readonly scheme: 's3'; readonly bucket: string; readonly key: string }
  | { readonly scheme: 'gs'; readonly bucket: string; readonly key: string }
  | { readonly scheme: 'file'; readonly path: string };

/** The scheme label for metrics and logs (low cardinality). */
export type StorageScheme = StorageLocation['scheme'];

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/;

function refuse(message: string): AgentError {
  return new AgentError(AgentErrorCode.INVALID_REQUEST, `storage_uri: ${message}`);
}

/** The URI as messages may show it (defined in the contract, which the operator shares). */
export const displayUri = displayStorageUri;

/** Splits a relative object key into segments, refusing ones that could leave a folder. */
export function safeKeySegments(key: string): string[] {
  const segments = key.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0'))) {
    throw refuse(`the path '${key}' has '.', '..' or backslash segments`);
  }
  return segments;
}

/** Parses a storage URI; `pvcRoot` is where pvc:// claims are mounted. */
export function parseStorageUri(uri: string, pvcRoot: string): StorageLocation {
  if (uri.startsWith('/')) return { scheme: 'file', path: localPath(uri) };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw refuse(`'${displayUri(uri)}' is neither a URL nor an absolute path`);
  }
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      if (url.hostname === '') throw refuse('the URL names no host');
      return { scheme: 'http', url };
    case 's3:':
    case 'gs:':
      return bucketLocation(url, uri);
    case 'pvc:': {
      const claim = url.hostname;
      if (claim === '') throw refuse('pvc:// needs a claim name: pvc://<claim>/<path>');
      const rest = safeKeySegments(decodeURIComponent(url.pathname));
      return { scheme: 'file', path: join(pvcRoot, claim, ...rest) };
    }
    case 'file:':
      if (url.hostname !== '') throw refuse('file:// URIs must be file:///absolute/path');
      return { scheme: 'file', path: localPath(decodeURIComponent(url.pathname)) };
    default:
      throw refuse(
        `unsupported scheme '${url.protocol.replace(/:$/, '')}' (use http, https, s3, gs, pvc or file)`,
      );
  }
}

function bucketLocation(url: URL, uri: string): StorageLocation {
  const scheme = url.protocol === 's3:' ? 's3' : 'gs';
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw refuse(`'${displayUri(uri)}' names no valid bucket`);
  // The key is the raw path: object keys are not percent-decoded by S3 or GCS clients here.
  const key = uri.slice(`${scheme}://${bucket}`.length).replace(/^\/+/, '');
  safeKeySegments(key);
  return { scheme, bucket, key };
}

function localPath(path: string): string {
  if (!isAbsolute(path)) throw refuse('local paths must be absolute');
  if (path.split('/').includes('..')) throw refuse("local paths must not contain '..'");
  return normalize(path);
}
