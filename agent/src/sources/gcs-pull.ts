/**
 * gs:// by credential mode, from the storage Secret's current content:
 * - a service-account key → the JSON API with an OAuth 2.0 token from the JWT-bearer grant;
 * - HMAC keys (and no service-account key) → GCS's XML API, which is S3-compatible, through the
 *   s3:// source's client (SigV4 with the HMAC pair, path-style, at the same endpoint);
 * - neither → the JSON API anonymously (public buckets).
 * `GCS_ENDPOINT` overrides Google's endpoint in every mode (an emulator, a private endpoint).
 */
import type { GcsCredentials } from '../credentials.js';
import { accessToken, parseServiceAccountKey } from './gcs-auth.js';
import { gcsEndpoint, pullGcs } from './gcs-source.js';
import { pullS3, s3Client } from './s3-source.js';
import type { PullResult, PullTarget } from './transfer.js';

/**
 * Pulls gs://bucket/key with whichever credentials the Secret holds; `remember` registers the
 * access token with the redactor (it never goes into a message, but a bearer token is a secret).
 */
export async function pullFromGcs(
  creds: GcsCredentials,
  bucket: string,
  key: string,
  target: PullTarget,
  remember: (secret: string) => void,
): Promise<PullResult> {
  const endpoint = gcsEndpoint(creds.endpoint);
  if (creds.serviceAccountJson !== undefined) {
    const token = await accessToken(parseServiceAccountKey(creds.serviceAccountJson), target);
    remember(token);
    return pullGcs({ endpoint, token }, bucket, key, target);
  }
  if (creds.hmac !== undefined) {
    const client = s3Client(
      {
        accessKeyId: creds.hmac.accessId,
        secretAccessKey: creds.hmac.secret,
        // GCS accepts any region in the SigV4 scope; `auto` is the one its docs use.
        region: 'auto',
        endpoint,
      },
      target,
      true,
    );
    return pullS3(client, bucket, key, target, 'gs');
  }
  return pullGcs({ endpoint }, bucket, key, target);
}
