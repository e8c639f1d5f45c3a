// The agent against a real GCS JSON API server (fake-gcs-server, anonymous: the emulator checks no
// credentials): an object, a prefix and a tar.gz archive load and answer V2 infer; an update
// switches versions; a missing object and an object whose bytes no longer match its md5Hash fail
// with clear messages. Service-account keys: the token grant itself needs Google's endpoint, which
// no peer here can stand in for, so what is tested is that a broken key file fails before any
// request with a message naming the Secret key and field, and leaks none of the key. HMAC keys go
// through GCS's S3-compatible XML API: tested against moto with signatures enforced.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CREDENTIAL_FILES } from '@tessera/contract';
import { tarGz } from '../../support/archives.js';
import { assertCleanMessage } from '../../support/error-checks.js';
import { startFakeGcs, type FakeGcsServer } from '../../support/fake-gcs-server.js';
import {
  createBucketWith,
  createS3Key,
  startMoto,
  type MotoServer,
} from '../../support/moto-server.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  assertSimpleAnswers,
  agentIndex,
  agentLoad,
  agentMetric,
  errorOf,
  inferVersioned,
  startPod,
  writeCredentials,
  type Pod,
} from './agent-harness.js';

const BUCKET = 'models';
const fixture = (path: string): Promise<Buffer> => readFile(join(REPO_ROOT, path));

/** Every place a secret must never appear: the answer, the index, metrics and the agent's log. */
async function assertNowhere(pod: Pod, message: string, secrets: readonly string[]): Promise<void> {
  const index = JSON.stringify(await agentIndex(pod));
  const metrics = await (await fetch(`${pod.agent.url}/metrics`)).text();
  const logs = pod.agent.output.join('\n');
  for (const secret of secrets) {
    assert.ok(!message.includes(secret), 'response');
    assert.ok(!index.includes(secret), 'index');
    assert.ok(!metrics.includes(secret), 'metrics');
    assert.ok(!logs.includes(secret), 'logs');
  }
}

void describe('agent: gs:// sources (fake-gcs-server)', () => {
  let gcs: FakeGcsServer;
  let pod: Pod;

  before(async () => {
    gcs = await startFakeGcs();
    await gcs.createBucket(BUCKET);
    const iris = {
      model: await fixture('examples/models/iris/model.onnx'),
      settings: await fixture('examples/models/iris/model-settings.json'),
    };
    await gcs.upload(
      BUCKET,
      'simple/model.onnx',
      await fixture('examples/models/simple/model.onnx'),
    );
    await gcs.upload(BUCKET, 'iris/model.onnx', iris.model);
    await gcs.upload(BUCKET, 'iris/model-settings.json', iris.settings);
    await gcs.upload(
      BUCKET,
      'archives/iris.tar.gz',
      await tarGz([
        { name: 'iris/', type: 'directory' },
        { name: 'iris/model.onnx', content: iris.model },
        { name: 'iris/model-settings.json', content: iris.settings },
      ]),
    );
    await gcs.upload(
      BUCKET,
      'v1/model.onnx',
      await fixture('test/fixtures/models/versioned/1/model.onnx'),
    );
    await gcs.upload(
      BUCKET,
      'v2/model.onnx',
      await fixture('test/fixtures/models/versioned/2/model.onnx'),
    );
    pod = await startPod();
    await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: gcs.endpoint });
  });

  after(async () => {
    await pod.stop();
    await gcs.stop();
  });

  it('loads a single object anonymously and counts the pull', async () => {
    const load = await agentLoad(pod, 'simple', {
      storage_uri: `gs://${BUCKET}/simple/model.onnx`,
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    await assertSimpleAnswers(pod, 'simple');
    const model = await fixture('examples/models/simple/model.onnx');
    assert.equal(
      await agentMetric(pod, 'tessera_agent_pull_bytes_total', { scheme: 'gs' }),
      model.length,
    );
    const entry = (await agentIndex(pod)).find((e) => e.name === 'simple');
    assert.equal(entry?.storage_uri, `gs://${BUCKET}/simple/model.onnx`);
  });

  it('downloads every object under a prefix', async () => {
    const load = await agentLoad(pod, 'iris', { storage_uri: `gs://${BUCKET}/iris` });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/iris/ready`)).status, 200);
  });

  it('extracts a tar.gz object', async () => {
    const load = await agentLoad(pod, 'iris-archive', {
      storage_uri: `gs://${BUCKET}/archives/iris.tar.gz`,
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/iris-archive/ready`)).status, 200);
  });

  it('switches a model to a new object (update)', async () => {
    const first = await agentLoad(pod, 'adder', { storage_uri: `gs://${BUCKET}/v1/model.onnx` });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(await inferVersioned(pod, 'adder'), [2, 3]);
    const update = await agentLoad(pod, 'adder', { storage_uri: `gs://${BUCKET}/v2/model.onnx` });
    assert.equal(update.status, 200, JSON.stringify(update.body));
    assert.deepEqual(await inferVersioned(pod, 'adder'), [3, 4]);
    const entry = (await agentIndex(pod)).find((e) => e.name === 'adder');
    assert.equal(entry?.storage_uri, `gs://${BUCKET}/v2/model.onnx`);
  });

  it('reports a missing object and a missing bucket clearly', async () => {
    const load = await agentLoad(pod, 'ghost', { storage_uri: `gs://${BUCKET}/ghost/model.onnx` });
    assert.equal(load.status, 424, JSON.stringify(load.body));
    assertCleanMessage(errorOf(load), ['not found', `gs://${BUCKET}/ghost/model.onnx`]);
    const entry = (await agentIndex(pod)).find((e) => e.name === 'ghost');
    assert.equal(entry?.pull?.phase, 'Failed');
    const bucket = await agentLoad(pod, 'ghost', { storage_uri: 'gs://no-such-bucket/model' });
    assert.equal(bucket.status, 424, JSON.stringify(bucket.body));
    assertCleanMessage(errorOf(bucket), ['not found', 'gs://no-such-bucket/model']);
  });

  it('refuses an object whose bytes do not match its md5Hash', async () => {
    const model = await fixture('examples/models/simple/model.onnx');
    await gcs.upload(BUCKET, 'corrupt/model.onnx', model);
    // Corruption at rest: same length, other bytes; the stored metadata keeps the upload's md5.
    const flipped = Buffer.from(model);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 0xff;
    await writeFile(gcs.objectFile(BUCKET, 'corrupt/model.onnx'), flipped);
    const load = await agentLoad(pod, 'corrupt', {
      storage_uri: `gs://${BUCKET}/corrupt/model.onnx`,
    });
    assert.equal(load.status, 422, JSON.stringify(load.body));
    assertCleanMessage(errorOf(load), ['md5 mismatch', `gs://${BUCKET}/corrupt/model.onnx`]);
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/corrupt/ready`)).status, 404);
  });

  it('refuses a GCS endpoint at a metadata address', async () => {
    await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: 'http://169.254.169.254' });
    try {
      // An object no other model uses: one already on the volume is not pulled again.
      const load = await agentLoad(pod, 'meta', { storage_uri: `gs://${BUCKET}/meta/model.onnx` });
      assert.equal(load.status, 403, JSON.stringify(load.body));
      assertCleanMessage(errorOf(load), ['169.254.169.254', 'metadata']);
    } finally {
      await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: gcs.endpoint });
    }
  });

  it('fails a store that accepts the connection and then says nothing (stall timeout)', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: `http://127.0.0.1:${port}` });
    try {
      const load = await agentLoad(pod, 'silent', {
        storage_uri: `gs://${BUCKET}/silent/model.onnx`,
      });
      assert.equal(load.status, 504, JSON.stringify(load.body));
      assertCleanMessage(errorOf(load), ['stalled']);
    } finally {
      await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: gcs.endpoint });
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('names the Secret key and field of a broken service-account key, leaking none of it', async () => {
    const keyFile = CREDENTIAL_FILES.gcsServiceAccount;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const valid = {
      type: 'service_account',
      client_email: 'agent@tessera-test.iam.gserviceaccount.com',
      private_key_id: 'key-id-0123456789abcdef',
      private_key: pem,
    };
    const pemBody = pem.split('\n')[1] ?? '';
    const cases: { text: string; mentions: string[]; secrets: string[] }[] = [
      // Cut mid-key: not JSON, and the parser's own text would quote the key.
      {
        text: JSON.stringify(valid).slice(0, 200),
        mentions: ['not valid JSON'],
        secrets: [pemBody],
      },
      {
        text: JSON.stringify({ ...valid, client_email: undefined }),
        mentions: ["'client_email' is missing"],
        secrets: [pemBody, valid.private_key_id],
      },
      {
        text: JSON.stringify({ ...valid, private_key: pem.replace(pemBody, 'AAAA'.repeat(16)) }),
        mentions: ["'private_key'", 'not a PEM private key'],
        secrets: ['AAAA'.repeat(16), valid.private_key_id],
      },
    ];
    try {
      for (const { text, mentions, secrets } of cases) {
        await writeCredentials(pod, { [keyFile]: text });
        const load = await agentLoad(pod, 'keyed', {
          storage_uri: `gs://${BUCKET}/keyed/model.onnx`,
        });
        assert.equal(load.status, 424, JSON.stringify(load.body));
        const message = errorOf(load);
        assertCleanMessage(message, [keyFile, 'service-account key', ...mentions]);
        await assertNowhere(pod, message, secrets);
      }
    } finally {
      await rm(join(pod.credentialsDir, keyFile), { force: true });
    }
  });

  void describe('HMAC keys through the XML API (moto as the S3-compatible peer)', () => {
    let moto: MotoServer;
    let hmac: { id: string; secret: string };

    before(async () => {
      moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
      hmac = await createS3Key(moto.endpoint);
      const simple = join(REPO_ROOT, 'examples/models/simple/model.onnx');
      await createBucketWith(moto.endpoint, hmac, 'xml-models', {
        'simple/model.onnx': simple,
        'denied/model.onnx': simple,
      });
      await writeCredentials(pod, {
        [CREDENTIAL_FILES.gcsEndpoint]: moto.endpoint,
        [CREDENTIAL_FILES.gcsHmacAccessId]: hmac.id,
        [CREDENTIAL_FILES.gcsHmacSecret]: hmac.secret,
      });
    });

    after(async () => {
      for (const name of [CREDENTIAL_FILES.gcsHmacAccessId, CREDENTIAL_FILES.gcsHmacSecret]) {
        await rm(join(pod.credentialsDir, name), { force: true });
      }
      await writeCredentials(pod, { [CREDENTIAL_FILES.gcsEndpoint]: gcs.endpoint });
      await moto.stop();
    });

    it('signs gs:// requests with the HMAC pair', async () => {
      const load = await agentLoad(pod, 'xml-simple', {
        storage_uri: 'gs://xml-models/simple/model.onnx',
      });
      assert.equal(load.status, 200, JSON.stringify(load.body));
      assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/xml-simple/ready`)).status, 200);
    });

    it('reports a wrong HMAC secret as denied, without revealing it', async () => {
      const wrong = 'wrong-hmac-secret-0123456789';
      await writeCredentials(pod, { [CREDENTIAL_FILES.gcsHmacSecret]: wrong });
      try {
        const load = await agentLoad(pod, 'xml-denied', {
          storage_uri: 'gs://xml-models/denied/model.onnx',
        });
        assert.equal(load.status, 424, JSON.stringify(load.body));
        const message = errorOf(load);
        assertCleanMessage(message, ['denied', 'gs://xml-models/denied/model.onnx']);
        await assertNowhere(pod, message, [wrong, hmac.secret]);
      } finally {
        await writeCredentials(pod, { [CREDENTIAL_FILES.gcsHmacSecret]: hmac.secret });
      }
    });
  });
});
