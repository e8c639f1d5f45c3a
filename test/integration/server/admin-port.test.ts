// The admin port and required models (the pod contract: the agent drives loads on loopback, and
// readiness means "serves its model"): with admin_port set, the repository API answers only on
// the admin listener, the inference ports refuse it (403 / PERMISSION_DENIED), and the server is
// ready only while every model of required_models is READY.
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ENV } from '@tessera/contract';
import { assertCleanMessage } from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import {
  REPO_ROOT,
  copyModels,
  startServer,
  type ServerProcess,
} from '../../support/server-process.js';
import {
  grpcCode,
  outputData,
  postJson,
  restIndex,
  simpleRestRequest,
} from './lifecycle-helpers.js';

async function readyStatus(server: ServerProcess): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.httpUrl}/v2/health/ready`, {
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: await response.json() };
}

void describe('admin port and required models', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let models: { dir: string; cleanup(): Promise<void> };
  let admin: string;

  before(async () => {
    models = await copyModels('examples/models/simple');
    server = await startServer({
      folder: models.dir,
      env: {
        [ENV.adminPort]: '0',
        [ENV.adminHost]: '127.0.0.1',
        [ENV.requiredModels]: JSON.stringify(['simple', 'iris']),
        [ENV.loadModelsAtStartup]: 'false',
      },
    });
    assert.ok(server.adminUrl, 'the server reports its admin port');
    admin = server.adminUrl;
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    await server.stop();
    await models.cleanup();
  });

  it('is not ready while required models are not loaded, and says which', async () => {
    const ready = await readyStatus(server);
    assert.equal(ready.status, 503);
    const message = (ready.body as { error: string }).error;
    assertCleanMessage(message, ["'simple'", "'iris'", 'required']);
    const grpcReady = await grpc.call<{ ready: boolean }>('ServerReady', {});
    assert.equal(grpcReady.ready, false);
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    assert.equal(live.status, 200, 'liveness is unaffected');
  });

  it('refuses the repository API on the inference REST port with 403', async () => {
    for (const path of ['index', 'models/simple/load', 'models/simple/unload']) {
      const result = await postJson(`${server.httpUrl}/v2/repository/${path}`, {});
      assert.equal(result.status, 403, path);
      assertCleanMessage((result.body as { error: string }).error, ['admin port']);
    }
  });

  it('refuses repository RPCs on the gRPC port with PERMISSION_DENIED', async () => {
    for (const service of ['inference', 'repository'] as const) {
      for (const method of ['RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload']) {
        const failure = await grpcCode(
          grpc.call(method, { model_name: 'simple', repository_name: '' }, { service }),
        );
        assert.equal(failure.code, status.PERMISSION_DENIED, `${service} ${method}`);
        assert.match(failure.details, /admin port/);
      }
    }
  });

  it('serves the repository API on the admin port only, for the same models', async () => {
    const index = await restIndex(admin);
    assert.deepEqual(
      index.map((e) => `${e.name}=${e.state}`),
      ['simple=UNAVAILABLE'],
    );
    const infer = await postJson(`${admin}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 404, 'the admin listener has no inference routes');
  });

  it('becomes ready once every required model is READY, including one added after start', async () => {
    const simple = await postJson(`${admin}/v2/repository/models/simple/load`, {});
    assert.equal(simple.status, 200, JSON.stringify(simple.body));
    const stillWaiting = await readyStatus(server);
    assert.equal(stillWaiting.status, 503);
    assert.match((stillWaiting.body as { error: string }).error, /'iris'/);
    assert.doesNotMatch((stillWaiting.body as { error: string }).error, /'simple'/);

    // A folder that appears on disk after start is found by load (the registry rescans).
    await cp(join(REPO_ROOT, 'examples/models/iris'), join(models.dir, 'iris'), {
      recursive: true,
    });
    const iris = await postJson(`${admin}/v2/repository/models/iris/load`, {});
    assert.equal(iris.status, 200, JSON.stringify(iris.body));

    const ready = await readyStatus(server);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
    assert.equal((await grpc.call<{ ready: boolean }>('ServerReady', {})).ready, true);
    const infer = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 200);
    assert.deepEqual(
      outputData(infer.body, 'OUTPUT0'),
      Array.from({ length: 16 }, (_, i) => i + 2),
    );
  });

  it('turns not ready again when a required model is unloaded', async () => {
    const unload = await postJson(`${admin}/v2/repository/models/iris/unload`, {});
    assert.equal(unload.status, 200);
    const ready = await readyStatus(server);
    assert.equal(ready.status, 503);
    assert.match((ready.body as { error: string }).error, /'iris'/);
  });
});

void describe('without an admin port', () => {
  it('serves the repository API on the inference port, as before', async () => {
    const server = await startServer({ folder: 'examples/models/simple' });
    try {
      assert.equal(server.adminUrl, undefined);
      const index = await restIndex(server.httpUrl);
      assert.deepEqual(
        index.map((e) => `${e.name}=${e.state}`),
        ['simple=READY'],
      );
      assert.equal((await readyStatus(server)).status, 200);
    } finally {
      await server.stop();
    }
  });
});
