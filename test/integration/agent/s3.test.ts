// The agent against a real S3-compatible server (moto, with authentication enforced): an object
// and a prefix load and answer V2 infer; bad credentials and missing objects fail with clear
// messages in the response and the index; no secret appears in any message, log line or metric.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CREDENTIAL_FILES } from '@tessera/contract';
import { assertCleanMessage } from '../../support/error-checks.js';
import {
  createBucketWith,
  createS3Key,
  startMoto,
  type MotoServer,
} from '../../support/moto-server.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  agentIndex,
  agentLoad,
  assertSimpleAnswers,
  startPod,
  writeCredentials,
  type Pod,
} from './agent-harness.js';

const BUCKET = 'models';

void describe('agent: s3 sources (moto)', () => {
  let moto: MotoServer;
  let pod: Pod;
  let key: { id: string; secret: string };

  before(async () => {
    // Three unauthenticated IAM calls set up a user; every later request must be signed.
    moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
    key = await createS3Key(moto.endpoint);
    await createBucketWith(moto.endpoint, key, BUCKET, {
      'simple/model.onnx': join(REPO_ROOT, 'examples/models/simple/model.onnx'),
      'iris/model.onnx': join(REPO_ROOT, 'examples/models/iris/model.onnx'),
      'iris/model-settings.json': join(REPO_ROOT, 'examples/models/iris/model-settings.json'),
    });
    pod = await startPod();
    await writeCredentials(pod, {
      [CREDENTIAL_FILES.s3AccessKeyId]: key.id,
      [CREDENTIAL_FILES.s3SecretAccessKey]: key.secret,
      [CREDENTIAL_FILES.s3Endpoint]: moto.endpoint,
    });
  });

  after(async () => {
    await pod.stop();
    await moto.stop();
  });

  it('loads an object with credentials from the credentials folder', async () => {
    const load = await agentLoad(pod, 'simple', {
      storage_uri: `s3://${BUCKET}/simple/model.onnx`,
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    await assertSimpleAnswers(pod, 'simple');
  });

  it('downloads every object under a prefix', async () => {
    const load = await agentLoad(pod, 'iris', { storage_uri: `s3://${BUCKET}/iris` });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/iris/ready`)).status, 200);
  });

  it('reports a missing object clearly', async () => {
    const load = await agentLoad(pod, 'ghost', { storage_uri: `s3://${BUCKET}/ghost/model.onnx` });
    assert.equal(load.status, 424);
    assertCleanMessage((load.body as { error: string }).error, ['not found', 'ghost']);
  });

  it('reports bad credentials without revealing any secret', async () => {
    const wrongSecret = 'wrong-secret-value-0123456789';
    await writeCredentials(pod, { [CREDENTIAL_FILES.s3SecretAccessKey]: wrongSecret });
    try {
      const load = await agentLoad(pod, 'denied', {
        storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      });
      assert.equal(load.status, 424, JSON.stringify(load.body));
      const message = (load.body as { error: string }).error;
      assertCleanMessage(message, ['denied', 'credentials']);
      const entry = (await agentIndex(pod)).find((e) => e.name === 'denied');
      assert.equal(entry?.pull?.phase, 'Failed');
      const metrics = await (await fetch(`${pod.agent.url}/metrics`)).text();
      for (const secret of [wrongSecret, key.secret, key.id]) {
        assert.ok(!message.includes(secret), 'response');
        assert.ok(!JSON.stringify(entry).includes(secret), 'index');
        assert.ok(!metrics.includes(secret), 'metrics');
        assert.ok(!pod.agent.output.join('\n').includes(secret), 'logs');
      }
    } finally {
      await writeCredentials(pod, { [CREDENTIAL_FILES.s3SecretAccessKey]: key.secret });
    }
  });
});

void describe('agent: s3 through the storage-config Secret (moto, auth enforced)', () => {
  let moto: MotoServer;
  let pod: Pod;
  let key: { id: string; secret: string };
  const entry = (secret: string) =>
    JSON.stringify({
      type: 's3',
      access_key_id: key.id,
      secret_access_key: secret,
      endpoint_url: moto.endpoint,
      region: 'us-east-1',
      default_bucket: BUCKET,
    });
  const putEntry = (name: string, text: string) =>
    writeFile(join(pod.storageConfigDir, name), text);
  const error = (body: unknown): string => (body as { error: string }).error;
  const leaksNothing = (text: string) => {
    for (const secret of [key.secret, key.id])
      assert.ok(!text.includes(secret), `a secret leaked: ${text.slice(0, 200)}`);
  };

  before(async () => {
    moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
    key = await createS3Key(moto.endpoint);
    await createBucketWith(moto.endpoint, key, BUCKET, {
      'iris/model.onnx': join(REPO_ROOT, 'examples/models/iris/model.onnx'),
      'simple/model.onnx': join(REPO_ROOT, 'examples/models/simple/model.onnx'),
    });
    // No credentials folder content at all: only the storage-config entry can sign.
    pod = await startPod();
  });

  after(async () => {
    await pod.stop();
    await moto.stop();
  });

  it('tells a missing Secret (empty folder) from a missing key', async () => {
    const load = await agentLoad(pod, 'iris', {
      storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      storage_key: 'moto',
    });
    assert.equal(load.status, 424, JSON.stringify(load.body));
    assertCleanMessage(error(load.body), [
      "storage key 'moto'",
      "the storage-config Secret 'tessera-storage-config' is missing or empty",
    ]);
    await putEntry('other', entry(key.secret));
    const again = await agentLoad(pod, 'iris', {
      storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      storage_key: 'moto',
    });
    assert.equal(again.status, 424);
    assertCleanMessage(error(again.body), ["key 'moto': no such key (the Secret has: other)"]);
  });

  it('names the key, never the value, for malformed JSON', async () => {
    await putEntry('moto', `${entry(key.secret)}}`);
    const load = await agentLoad(pod, 'iris', {
      storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      storage_key: 'moto',
    });
    assert.equal(load.status, 424);
    assertCleanMessage(error(load.body), ["key 'moto': the value is not valid JSON"]);
    leaksNothing(error(load.body));
  });

  it('loads with the entry, and a changed entry takes effect at the next pull without a restart', async () => {
    await putEntry('moto', entry('wrong-secret-value-0123456789'));
    const denied = await agentLoad(pod, 'iris', {
      storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      storage_key: 'moto',
    });
    assert.equal(denied.status, 424, JSON.stringify(denied.body));
    assertCleanMessage(error(denied.body), ['denied', 'credentials']);
    assert.ok(!error(denied.body).includes('wrong-secret-value-0123456789'));

    await putEntry('moto', entry(key.secret));
    const load = await agentLoad(pod, 'iris', {
      storage_uri: `s3://${BUCKET}/iris/model.onnx`,
      storage_key: 'moto',
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/iris/ready`)).status, 200);
  });

  it('refuses an entry of the wrong type, and an invalid field by name', async () => {
    await putEntry(
      'web',
      JSON.stringify({ type: 'http', headers: { Authorization: 'Bearer x1234' } }),
    );
    const wrongType = await agentLoad(pod, 'simple', {
      storage_uri: `s3://${BUCKET}/simple/model.onnx`,
      storage_key: 'web',
    });
    assert.equal(wrongType.status, 424);
    assertCleanMessage(error(wrongType.body), [
      "key 'web': it is a http entry, but 's3://models/simple/model.onnx' needs a s3 entry",
    ]);
    await putEntry('half', JSON.stringify({ type: 's3', access_key_id: key.id }));
    const half = await agentLoad(pod, 'simple', {
      storage_uri: `s3://${BUCKET}/simple/model.onnx`,
      storage_key: 'half',
    });
    assertCleanMessage(error(half.body), [
      "key 'half': field 'secret_access_key' is required with the other access key field",
    ]);
    leaksNothing(error(half.body));
  });

  it('refuses a storage key that is not a Secret key', async () => {
    const load = await agentLoad(pod, 'simple', {
      storage_uri: `s3://${BUCKET}/simple/model.onnx`,
      storage_key: '../credentials',
    });
    assert.equal(load.status, 400, JSON.stringify(load.body));
    assertCleanMessage(error(load.body), ['storage_key']);
  });

  it('never shows a secret in the index, metrics or logs', async () => {
    const index = JSON.stringify(await agentIndex(pod));
    const metrics = await (await fetch(`${pod.agent.url}/metrics`)).text();
    for (const text of [index, metrics, pod.agent.output.join('\n')]) leaksNothing(text);
  });
});
