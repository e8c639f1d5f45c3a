import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redactor } from '../../../agent/src/credentials.js';
import { AgentError, AgentErrorCode } from '../../../agent/src/errors.js';
import {
  assertEntryType,
  gcsCredentialsOf,
  httpHeadersOf,
  parseStorageEntry,
  readStorageEntry,
  s3CredentialsOf,
} from '../../../agent/src/storage-config.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const s3Entry = {
  type: 's3',
  access_key_id: 'AKIAEXAMPLEKEYID',
  secret_access_key: SECRET,
  endpoint_url: 'http://127.0.0.1:9000',
  region: 'eu-west-1',
  default_bucket: 'models',
};

/** Runs `fn`, which must throw a storage-config AgentError, and returns its message. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AgentError, String(error));
    assert.equal(error.code, AgentErrorCode.STORAGE_CONFIG_INVALID);
    return error.message;
  }
  assert.fail('expected a storage-config error');
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AgentError, String(error));
    assert.equal(error.code, AgentErrorCode.STORAGE_CONFIG_INVALID);
    return error.message;
  }
  assert.fail('expected a storage-config error');
}

describe('storage-config entries (ModelMesh shape)', () => {
  it('converts an s3 entry to the S3 credentials the source uses', () => {
    const entry = parseStorageEntry('localMinIO', JSON.stringify(s3Entry), new Redactor());
    assert.equal(entry.type, 's3');
    if (entry.type !== 's3') return;
    assert.deepEqual(s3CredentialsOf(entry), {
      region: 'eu-west-1',
      accessKeyId: 'AKIAEXAMPLEKEYID',
      secretAccessKey: SECRET,
      endpoint: 'http://127.0.0.1:9000',
    });
  });

  it('defaults the region and allows an anonymous s3 entry', () => {
    const entry = parseStorageEntry('public', '{"type":"s3"}', new Redactor());
    assert.ok(entry.type === 's3');
    assert.deepEqual(s3CredentialsOf(entry), { region: 'us-east-1' });
  });

  it('registers every secret value with the redactor, not the names of places', () => {
    const redactor = new Redactor();
    parseStorageEntry('localMinIO', JSON.stringify(s3Entry), redactor);
    const text = redactor.redact(
      `id AKIAEXAMPLEKEYID secret ${SECRET} at http://127.0.0.1:9000 in eu-west-1 bucket models`,
    );
    assert.equal(text, 'id *** secret *** at http://127.0.0.1:9000 in eu-west-1 bucket models');
  });

  it('registers secrets even when the entry is then refused', () => {
    const redactor = new Redactor();
    const message = failure(() =>
      parseStorageEntry('bad', JSON.stringify({ ...s3Entry, region: 42 }), redactor),
    );
    assert.match(message, /key 'bad': field 'region' must be a string/);
    assert.equal(redactor.redact(SECRET), '***');
  });

  it('names the key, never the value, when the JSON is malformed', () => {
    const raw = `{"type":"s3","secret_access_key":"${SECRET}",}`;
    const message = failure(() => parseStorageEntry('broken', raw, new Redactor()));
    assert.equal(
      message,
      "storage-config Secret 'tessera-storage-config', key 'broken': the value is not valid JSON",
    );
    assert.equal(message.includes(SECRET), false);
  });

  it('names the field that is wrong or missing', () => {
    const r = new Redactor();
    assert.match(
      failure(() => parseStorageEntry('k', '["s3"]', r)),
      /key 'k': the value must be a JSON object with a "type" field/,
    );
    assert.match(
      failure(() => parseStorageEntry('k', '{"access_key_id":"AKIAEXAMPLE"}', r)),
      /key 'k': field 'type' must be one of s3, gcs, http/,
    );
    assert.match(
      failure(() => parseStorageEntry('k', '{"type":"azure"}', r)),
      /field 'type' must be one of s3, gcs, http/,
    );
    assert.match(
      failure(() => parseStorageEntry('k', JSON.stringify({ ...s3Entry, endpoint_url: 'x y' }), r)),
      /field 'endpoint_url' must be a valid url/,
    );
    const { secret_access_key: _s, ...noSecret } = s3Entry;
    assert.match(
      failure(() => parseStorageEntry('k', JSON.stringify(noSecret), r)),
      /field 'secret_access_key' is required with the other access key field/,
    );
    assert.match(
      failure(() => parseStorageEntry('g', '{"type":"gcs","client_email":"a@b.iam"}', r)),
      /key 'g': field 'private_key' is required/,
    );
    assert.match(
      failure(() =>
        parseStorageEntry('k', JSON.stringify({ ...s3Entry, certificate: '-----BEGIN' }), r),
      ),
      /field 'certificate' \(custom TLS\) is not supported/,
    );
  });

  it('turns a gcs entry into a service-account key and redacts its private key', () => {
    const redactor = new Redactor();
    const privateKey = '-----BEGIN PRIVATE KEY-----\nAABBCC1122\n-----END PRIVATE KEY-----\n';
    const entry = parseStorageEntry(
      'gcsKey',
      JSON.stringify({ type: 'gcs', private_key: privateKey, client_email: 'sa@p.iam' }),
      redactor,
    );
    assert.ok(entry.type === 'gcs');
    const key = JSON.parse(gcsCredentialsOf(entry).serviceAccountJson ?? '{}') as object;
    assert.deepEqual(key, {
      type: 'service_account',
      private_key: privateKey,
      client_email: 'sa@p.iam',
    });
    assert.equal(redactor.redact(`key ${privateKey}`), 'key ***');
  });

  it('sends http headers only to the entry url and redacts them', () => {
    const redactor = new Redactor();
    const entry = parseStorageEntry(
      'web',
      JSON.stringify({
        type: 'http',
        url: 'https://models.example/private/',
        headers: { Authorization: 'Bearer tok-123456' },
      }),
      redactor,
    );
    assert.ok(entry.type === 'http');
    const url = new URL('https://models.example/private/iris.onnx');
    assert.deepEqual(httpHeadersOf('web', entry, url, url.href), {
      Authorization: 'Bearer tok-123456',
    });
    const other = new URL('https://models.example/privately/iris.onnx');
    assert.match(
      failure(() => httpHeadersOf('web', entry, other, other.href)),
      /key 'web': 'https:\/\/models.example\/privately\/iris.onnx' is not under the entry's url/,
    );
    assert.equal(redactor.redact('Bearer tok-123456'), '***');
  });

  it('refuses an entry of the wrong type for the URI', () => {
    const entry = parseStorageEntry('k', JSON.stringify(s3Entry), new Redactor());
    assert.match(
      failure(() => {
        assertEntryType('k', entry, 'http', 'https://h/m.onnx');
      }),
      /it is a s3 entry, but 'https:\/\/h\/m.onnx' needs a http entry/,
    );
    assert.match(
      failure(() => {
        assertEntryType('k', entry, 'file', '/models/m.onnx');
      }),
      /is a local source and takes no storage key/,
    );
    assertEntryType('k', entry, 's3', 's3://b/m');
  });
});

describe('readStorageEntry (the mounted Secret folder)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-storage-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tells a missing Secret from a missing key', async () => {
    const empty = join(dir, 'empty');
    assert.match(
      await rejection(readStorageEntry(empty, 'minio', new Redactor())),
      /storage key 'minio': the storage-config Secret 'tessera-storage-config' is missing or empty in this namespace/,
    );
    await writeFile(join(dir, 'other'), JSON.stringify(s3Entry));
    await writeFile(join(dir, '..data'), 'kubelet bookkeeping');
    assert.match(
      await rejection(readStorageEntry(dir, 'minio', new Redactor())),
      /key 'minio': no such key \(the Secret has: other\)/,
    );
  });

  it('reads the key afresh at each call (a changed Secret needs no restart)', async () => {
    await writeFile(join(dir, 'rotating'), JSON.stringify({ ...s3Entry, region: 'r1' }));
    const first = await readStorageEntry(dir, 'rotating', new Redactor());
    await writeFile(join(dir, 'rotating'), JSON.stringify({ ...s3Entry, region: 'r2' }));
    const second = await readStorageEntry(dir, 'rotating', new Redactor());
    assert.ok(first.type === 's3' && second.type === 's3');
    assert.equal(first.region, 'r1');
    assert.equal(second.region, 'r2');
  });

  it('refuses keys that would leave the folder', async () => {
    for (const key of ['..data', '../etc', 'a/b']) {
      assert.match(
        await rejection(readStorageEntry(dir, key, new Redactor())),
        /not a valid Secret key/,
      );
    }
  });
});
