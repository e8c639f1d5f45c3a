/**
 * How a storage URI crosses the agent ↔ operator boundary. The agent never shows a URI's
 * user-info or query (a presigned URL's signature is a credential), so its index carries the
 * display form plus a fingerprint of the whole URI: the operator compares fingerprints, so two
 * URIs that differ only in their query (`?versionId=2`, a new signature) are still told apart.
 */
import { createHash } from 'node:crypto';

/** The URI as messages and indexes may show it: no user-info, no query, no fragment. */
export function displayStorageUri(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      return `${url.protocol}//${url.host}${url.pathname}`;
    }
  } catch {
    // not a URL: a local path, shown as given
  }
  return uri.replace(/[?#].*$/, '');
}

/** A short, one-way fingerprint of the whole URI (16 hex digits of its SHA-256). */
export function storageUriFingerprint(uri: string): string {
  return createHash('sha256').update(uri).digest('hex').slice(0, 16);
}

/**
 * Whether an index entry's URI (display form, and fingerprint when the agent sent one) names
 * `uri`. Without a fingerprint (an older agent) the display forms are compared.
 */
export function reportsStorageUri(
  reported: { readonly display: string | undefined; readonly fingerprint?: string | undefined },
  uri: string,
): boolean {
  if (reported.display === undefined) return false;
  if (reported.fingerprint !== undefined)
    return reported.fingerprint === storageUriFingerprint(uri);
  return reported.display === displayStorageUri(uri);
}
