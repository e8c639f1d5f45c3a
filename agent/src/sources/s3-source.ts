/**
 * s3://bucket/key-or-prefix through @aws-sdk/client-s3. Credentials come only from the
 * credentials folder; without them requests are unsigned (public buckets), never the SDK's
 * default chain, which would read the environment or the instance metadata service. An
 * S3_ENDPOINT override (S3-compatible stores such as MinIO or moto) switches to path-style.
 * A key that names no object is read as a prefix: every object under `key/` is downloaded.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assertHostAllowed, guardedLookup } from '../allowlist.js';
import type { S3Credentials } from '../credentials.js';
import { AgentError, AgentErrorCode } from '../errors.js';
import { safeKeySegments } from '../storage-uri.js';
import { writeObject, type PullResult, type PullTarget, type WrittenObject } from './transfer.js';

/**
 * Builds a client for one pull from the credentials folder's current content. `interop` is for
 * S3-compatible stores that are not S3 (GCS's XML API): the SDK's flexible checksums, on by
 * default since 3.729, send x-amz-checksum headers those stores do not know, so checksums are
 * only computed or checked where an operation requires them.
 */
export function s3Client(creds: S3Credentials, target: PullTarget, interop = false): S3Client {
  if (creds.endpoint !== undefined) assertHostAllowed(new URL(creds.endpoint).hostname, []);
  const signed = creds.accessKeyId !== undefined && creds.secretAccessKey !== undefined;
  return new S3Client({
    region: creds.region,
    maxAttempts: 2,
    ...(interop
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
    ...(creds.endpoint === undefined ? {} : { endpoint: creds.endpoint, forcePathStyle: true }),
    ...(signed
      ? {
          credentials: {
            accessKeyId: creds.accessKeyId,
            secretAccessKey: creds.secretAccessKey,
            ...(creds.sessionToken === undefined ? {} : { sessionToken: creds.sessionToken }),
          },
        }
      : { signer: { sign: (request) => Promise.resolve(request) } }),
    requestHandler: {
      connectionTimeout: target.connectTimeoutMs,
      requestTimeout: target.stallTimeoutMs,
      httpAgent: new HttpAgent({ lookup: guardedLookup }),
      httpsAgent: new HttpsAgent({ lookup: guardedLookup }),
    },
  });
}

/** Maps SDK failures to user-terms errors; the SDK's own text never reaches a caller. */
export function s3Error(error: unknown, where: string): AgentError {
  if (error instanceof AgentError) return error;
  const name = error instanceof S3ServiceException ? error.name : (error as Error).name;
  switch (name) {
    case 'NoSuchKey':
    case 'NotFound':
    case 'NoSuchBucket':
      return new AgentError(AgentErrorCode.ARTEFACT_NOT_FOUND, `${where} was not found`);
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'Forbidden':
    case 'InvalidToken':
    case 'ExpiredToken':
      return new AgentError(
        AgentErrorCode.ACCESS_DENIED,
        `access to ${where} was denied (${name}): check the storage credentials`,
      );
    case 'TimeoutError':
    case 'RequestTimeout':
      return new AgentError(
        AgentErrorCode.PULL_TIMEOUT,
        `${where}: the store did not answer in time`,
      );
    default: {
      const code = (error as { code?: unknown }).code;
      const detail = typeof code === 'string' ? code : name;
      return new AgentError(AgentErrorCode.PULL_FAILED, `cannot read ${where} (${detail})`);
    }
  }
}

async function getObject(
  client: S3Client,
  bucket: string,
  key: string,
  path: string,
  target: PullTarget,
): Promise<WrittenObject> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
    abortSignal: target.signal,
  });
  return writeObject(object.Body as Readable, path, target);
}

async function listKeys(client: S3Client, bucket: string, prefix: string, signal: AbortSignal) {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined && !object.Key.endsWith('/')) keys.push(object.Key);
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/**
 * Downloads an object, or every object under a prefix, into the staging folder; `scheme` is how
 * messages name the location (gs:// read through GCS's XML API with HMAC keys).
 */
export async function pullS3(
  client: S3Client,
  bucket: string,
  key: string,
  target: PullTarget,
  scheme: 's3' | 'gs' = 's3',
): Promise<PullResult> {
  const where = `${scheme}://${bucket}/${key}`;
  try {
    if (key !== '' && !key.endsWith('/')) {
      const name = safeKeySegments(key).pop() ?? 'artefact';
      try {
        const written = await getObject(client, bucket, key, join(target.dir, name), target);
        return { kind: 'file', name, ...written };
      } catch (error) {
        if (s3Error(error, where).code !== AgentErrorCode.ARTEFACT_NOT_FOUND) throw error;
      }
    }
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const keys = await listKeys(client, bucket, prefix, target.signal);
    if (keys.length === 0)
      throw new AgentError(AgentErrorCode.ARTEFACT_NOT_FOUND, `${where} was not found`);
    let bytes = 0;
    for (const objectKey of keys) {
      const segments = safeKeySegments(objectKey.slice(prefix.length));
      const written = await getObject(
        client,
        bucket,
        objectKey,
        join(target.dir, ...segments),
        target,
      );
      bytes += written.bytes;
    }
    return { kind: 'folder', bytes, files: keys.length };
  } catch (error) {
    throw s3Error(error, where);
  } finally {
    client.destroy();
  }
}
