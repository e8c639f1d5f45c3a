// The service-account half of gs://: key validation names the file and field and never a value;
// the JWT-bearer grant that google-auth-library sends is signed with the key, for the read-only
// scope; Google's refusals map to user-term errors. The token endpoint is an in-memory fetch.
import assert from 'node:assert/strict';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { AgentErrorCode } from '../../../agent/src/errors.js';
import {
  GCS_READ_SCOPE,
  accessToken,
  parseServiceAccountKey,
} from '../../../agent/src/sources/gcs-auth.js';
import { gcsEndpoint } from '../../../agent/src/sources/gcs-source.js';
import type { PullTarget } from '../../../agent/src/sources/transfer.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const EMAIL = 'agent@tessera-test.iam.gserviceaccount.com';
const KEY = { type: 'service_account', client_email: EMAIL, private_key: PEM };
const TARGET: PullTarget = {
  dir: '',
  stallTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  signal: new AbortController().signal,
  onBytes: () => undefined,
};

function rejectsWith(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (error: { code?: string; message: string }) => {
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(PEM.split('\n')[1] ?? '-'), 'no key material');
    return true;
  });
}

describe('parseServiceAccountKey', () => {
  it('accepts a service-account key', () => {
    const key = parseServiceAccountKey(JSON.stringify({ ...KEY, private_key_id: 'k1' }));
    assert.deepEqual(key, { email: EMAIL, privateKey: PEM, keyId: 'k1' });
  });

  it('names the Secret key and the field that is wrong', () => {
    const denied = AgentErrorCode.ACCESS_DENIED;
    const file = /gcloud-application-credentials\.json/;
    rejectsWith(() => parseServiceAccountKey(JSON.stringify(KEY).slice(0, 300)), denied, file);
    rejectsWith(() => parseServiceAccountKey('[1]'), denied, /not a JSON object|'type'/);
    rejectsWith(
      () => parseServiceAccountKey(JSON.stringify({ ...KEY, type: 'authorized_user' })),
      denied,
      /'type' must be 'service_account'/,
    );
    rejectsWith(
      () => parseServiceAccountKey(JSON.stringify({ ...KEY, client_email: 'nobody' })),
      denied,
      /'client_email'/,
    );
    rejectsWith(
      () => parseServiceAccountKey(JSON.stringify({ ...KEY, private_key: 'not a key' })),
      denied,
      /'private_key' is not a PEM private key/,
    );
  });
});

describe('accessToken', () => {
  it('sends a JWT-bearer grant signed with the key for the read-only scope', async () => {
    let form: URLSearchParams | undefined;
    const fetchImpl = (async (_url: unknown, init?: RequestInit) => {
      form = new URLSearchParams(init?.body as URLSearchParams);
      return new Response(JSON.stringify({ access_token: 'tok-123', expires_in: 3600 }), {
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    const token = await accessToken(parseServiceAccountKey(JSON.stringify(KEY)), TARGET, fetchImpl);
    assert.equal(token, 'tok-123');
    assert.equal(form?.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, claims, signature] = (form?.get('assertion') ?? '').split('.');
    assert.ok(header !== undefined && claims !== undefined && signature !== undefined);
    const decoded = JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    assert.equal(decoded['iss'], EMAIL);
    assert.equal(decoded['scope'], GCS_READ_SCOPE);
    const verify = createVerify('RSA-SHA256').update(`${header}.${claims}`);
    assert.ok(verify.verify(publicKey, Buffer.from(signature, 'base64url')), 'signed by the key');
  });

  it("maps Google's refusal and an unreachable endpoint to user-term errors", async () => {
    const key = parseServiceAccountKey(JSON.stringify(KEY));
    const refuse = (async () =>
      new Response(JSON.stringify({ error: 'invalid_grant', error_description: 'bad' }), {
        status: 400,
        headers: { 'content-type': 'application/json' },
      })) as typeof fetch;
    await assert.rejects(accessToken(key, TARGET, refuse), (error: Error & { code: string }) => {
      assert.equal(error.code, AgentErrorCode.ACCESS_DENIED);
      assert.match(error.message, new RegExp(`refused the key of service account '${EMAIL}'`));
      return true;
    });
    let attempts = 0;
    const unreachable = (async () => {
      attempts++;
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    }) as typeof fetch;
    await assert.rejects(
      accessToken(key, TARGET, unreachable),
      (error: Error & { code: string }) => {
        assert.equal(error.code, AgentErrorCode.PULL_FAILED);
        assert.match(error.message, /cannot obtain an access token .*\(ENOTFOUND\)/);
        return true;
      },
    );
    assert.equal(attempts, 1, 'one attempt: the operator retries with backoff');
  });
});

describe('gcsEndpoint', () => {
  it("defaults to Google's, adds https to a bare host and refuses metadata addresses", () => {
    assert.equal(gcsEndpoint(undefined), 'https://storage.googleapis.com');
    assert.equal(gcsEndpoint('gcs.internal:4443'), 'https://gcs.internal:4443');
    assert.equal(gcsEndpoint('http://127.0.0.1:4443/'), 'http://127.0.0.1:4443');
    assert.throws(() => gcsEndpoint('http://169.254.169.254'), /metadata/);
    assert.throws(() => gcsEndpoint('http://metadata.google.internal'), /metadata/);
  });
});
