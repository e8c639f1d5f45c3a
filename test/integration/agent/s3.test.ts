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
import { outputData, postJson, simpleRestRequest } from '../server/lifecycle-helpers.js';
import { agentIndex, agentLoad, startPod, type Pod } from './agent-harness.js';

const BUCKET = 'models';

async function writeCredentials(pod: Pod, files: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(files)) {
    await writeFile(join(pod.credentialsDir, name), value);
  }
}

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
    const infer = await postJson(
      `${pod.server.httpUrl}/v2/models/simple/infer`,
      simpleRestRequest(),
    );
    assert.equal(infer.status, 200);
    assert.deepEqual(
      outputData(infer.body, 'OUTPUT0'),
      Array.from({ length: 16 }, (_, i) => i + 2),
    );
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
