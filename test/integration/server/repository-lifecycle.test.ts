// The model repository extension and the model lifecycle against the real server, over REST and
// gRPC (reliability-catalogue §4 C19, C20, C22; v2-protocol §3.2): index, load, unload, versions,
// zero-downtime reload, failed reload, invalid settings, and unload with requests in flight.
import assert from 'node:assert/strict';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import {
  REPO_ROOT,
  copyModels,
  startServer,
  type ServerProcess,
} from '../../support/server-process.js';
import {
  grpcCode,
  grpcIndex,
  irisGrpcRawRequest,
  outputData,
  postJson,
  restIndex,
  simpleGrpcRequest,
  simpleRestRequest,
  slowGrpcRequest,
  slowRestRequest,
  versionedGrpcRequest,
  versionedRestRequest,
  waitFor,
  type IndexEntry,
} from './lifecycle-helpers.js';

const BROKEN_ONNX = join(REPO_ROOT, 'test/fixtures/models/broken/model.onnx');
const VERSION_2_ONNX = join(REPO_ROOT, 'test/fixtures/models/versioned/2/model.onnx');

function states(index: readonly IndexEntry[]): string[] {
  return index
    .map(
      (e) =>
        `${e.name}${e.version === undefined || e.version === '' ? '' : `@${e.version}`}=${e.state}`,
    )
    .sort();
}

async function simpleOk(server: ServerProcess): Promise<void> {
  const result = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
  assert.equal(result.status, 200, JSON.stringify(result.body));
  assert.deepEqual(
    outputData(result.body, 'OUTPUT0'),
    Array.from({ length: 16 }, (_, i) => i + 2),
  );
}

/** Reads one gauge/counter sample from a Prometheus scrape (0 when absent). */
/** The sum of the samples of one or more metrics with these labels, from one scrape. */
async function sample(
  server: ServerProcess,
  names: string | string[],
  labels: Record<string, string>,
): Promise<number> {
  const text = await (
    await fetch(`${server.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
  ).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    const name = [names].flat().find((n) => line.startsWith(`${n}{`));
    if (name === undefined) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((w) => labelText.split(',').includes(w)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

void describe('repository index, load and unload', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let models: { dir: string; cleanup(): Promise<void> };

  before(async () => {
    models = await copyModels(
      'examples/models/simple',
      'examples/models/iris',
      'test/fixtures/models/versioned',
      'test/fixtures/models/broken',
    );
    // A model whose settings are invalid: `implementation` must be a string.
    await mkdir(join(models.dir, 'badsettings'));
    await writeFile(
      join(models.dir, 'badsettings', 'model-settings.json'),
      JSON.stringify({ name: 'badsettings', implementation: 42 }),
    );
    server = await startServer({ folder: models.dir });
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    assert.equal(await server.stop(), 0);
    await models.cleanup();
  });

  void it('lists every model with its state, and only READY ones with {"ready": true}', async () => {
    const all = await restIndex(server.httpUrl);
    assert.deepEqual(states(all), [
      'badsettings=UNAVAILABLE',
      'broken=UNAVAILABLE',
      'iris@1=READY',
      'simple=READY',
      'versioned@1=READY',
      'versioned@2=READY',
    ]);
    const brokenEntry = all.find((e) => e.name === 'broken');
    assert.match(brokenEntry?.reason ?? '', /model\.onnx|ONNX/);
    for (const e of all.filter((x) => x.state === 'READY')) assert.equal(e.reason, '');

    const ready = await restIndex(server.httpUrl, true);
    assert.deepEqual(states(ready), [
      'iris@1=READY',
      'simple=READY',
      'versioned@1=READY',
      'versioned@2=READY',
    ]);

    // An empty body (tritonclient) is the same as {}.
    const empty = await postJson(`${server.httpUrl}/v2/repository/index`);
    assert.equal(empty.status, 200);
    assert.deepEqual(states(empty.body as IndexEntry[]), states(all));

    for (const service of ['repository', 'inference'] as const) {
      assert.deepEqual(states(await grpcIndex(grpc, false, service)), states(all));
      assert.deepEqual(states(await grpcIndex(grpc, true, service)), states(ready));
    }
  });

  void it('shows a model with an invalid model-settings.json as UNAVAILABLE, naming the file and the field, while others serve', async () => {
    const entry = (await restIndex(server.httpUrl)).find((e) => e.name === 'badsettings');
    assert.ok(entry);
    assert.equal(entry.state, 'UNAVAILABLE');
    assert.match(entry.reason, /badsettings\/model-settings\.json/);
    assert.match(entry.reason, /implementation/);
    assert.doesNotMatch(
      entry.reason,
      new RegExp(models.dir.replaceAll('/', '\\/')),
      'no absolute path in the reason',
    );
    const load = await postJson(`${server.httpUrl}/v2/repository/models/badsettings/load`);
    assert.equal(load.status, 422, JSON.stringify(load.body));
    assert.match((load.body as { error: string }).error, /implementation/);
    const grpcLoad = await grpcCode(
      grpc.call('RepositoryModelLoad', { model_name: 'badsettings' }, { service: 'repository' }),
    );
    assert.equal(grpcLoad.code, status.FAILED_PRECONDITION);
    await simpleOk(server);
  });

  void it('answers 404 / NOT_FOUND for loading or unloading an unknown model', async () => {
    for (const op of ['load', 'unload']) {
      const result = await postJson(`${server.httpUrl}/v2/repository/models/no-such-model/${op}`);
      assert.equal(result.status, 404, `${op}: ${JSON.stringify(result.body)}`);
      assert.match((result.body as { error: string }).error, /no-such-model/);
    }
    for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      for (const service of ['repository', 'inference'] as const) {
        const failure = await grpcCode(
          grpc.call(method, { model_name: 'no-such-model' }, { service }),
        );
        assert.equal(failure.code, status.NOT_FOUND, `${service} ${method}: ${failure.details}`);
      }
    }
  });

  void it('treats a model added to the repository after start-up like any other: unload is a no-op, load serves it', async () => {
    const dir = join(models.dir, 'late');
    await mkdir(dir);
    await copyFile(join(REPO_ROOT, 'examples/models/simple/model.onnx'), join(dir, 'model.onnx'));
    await writeFile(
      join(dir, 'model-settings.json'),
      JSON.stringify({ name: 'late', implementation: 'onnx' }),
    );
    try {
      const unload = await postJson(`${server.httpUrl}/v2/repository/models/late/unload`);
      assert.equal(
        unload.status,
        200,
        `unload of a model on disk that is not loaded: ${JSON.stringify(unload.body)}`,
      );
      assert.equal(
        (await grpcCode(grpc.call('ModelInfer', simpleGrpcRequest('late')))).code,
        status.UNAVAILABLE,
      );
      assert.equal(
        (await postJson(`${server.httpUrl}/v2/repository/models/late/load`)).status,
        200,
      );
      assert.equal(
        (await postJson(`${server.httpUrl}/v2/models/late/infer`, simpleRestRequest())).status,
        200,
      );
      assert.equal(
        (await postJson(`${server.httpUrl}/v2/repository/models/late/unload`)).status,
        200,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('serves every version of a versioned model; no version means the highest', async () => {
    const v1 = await postJson(
      `${server.httpUrl}/v2/models/versioned/versions/1/infer`,
      versionedRestRequest([1, 2]),
    );
    const v2 = await postJson(
      `${server.httpUrl}/v2/models/versioned/versions/2/infer`,
      versionedRestRequest([1, 2]),
    );
    const latest = await postJson(
      `${server.httpUrl}/v2/models/versioned/infer`,
      versionedRestRequest([1, 2]),
    );
    assert.deepEqual(outputData(v1.body), [2, 3]);
    assert.deepEqual(outputData(v2.body), [3, 4]);
    assert.deepEqual(outputData(latest.body), [3, 4]);
    assert.equal((v1.body as { model_version: string }).model_version, '1');
    assert.equal((latest.body as { model_version: string }).model_version, '2');

    // Outputs arrive as raw_output_contents, as Triton sends them (settings grpc_output_contents).
    const g1 = await grpc.call<{ model_version: string; raw_output_contents: Buffer[] }>(
      'ModelInfer',
      versionedGrpcRequest('1'),
    );
    const gLatest = await grpc.call<{ model_version: string; raw_output_contents: Buffer[] }>(
      'ModelInfer',
      versionedGrpcRequest(''),
    );
    assert.deepEqual(rawFloat32(g1.raw_output_contents[0]), [2, 3]);
    assert.equal(gLatest.model_version, '2');
    assert.deepEqual(rawFloat32(gLatest.raw_output_contents[0]), [3, 4]);

    const meta = (await (await fetch(`${server.httpUrl}/v2/models/versioned`)).json()) as {
      versions: string[];
    };
    assert.deepEqual(meta.versions, ['1', '2']);
    const unknown = await postJson(
      `${server.httpUrl}/v2/models/versioned/versions/7/infer`,
      versionedRestRequest(),
    );
    assert.equal(unknown.status, 404);
  });

  void it('unload makes a model UNAVAILABLE: 503 with Retry-After on REST, UNAVAILABLE on gRPC; load brings it back', async () => {
    const unload = await postJson(`${server.httpUrl}/v2/repository/models/simple/unload`);
    assert.equal(unload.status, 200, JSON.stringify(unload.body));
    const entry = (await restIndex(server.httpUrl)).find((e) => e.name === 'simple');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.ok(!(await restIndex(server.httpUrl, true)).some((e) => e.name === 'simple'));

    const infer = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 503, JSON.stringify(infer.body));
    assert.ok(infer.headers.get('retry-after'), 'Retry-After header on 503');
    assert.match((infer.body as { error: string }).error, /simple/);
    const ready = await fetch(`${server.httpUrl}/v2/models/simple/ready`);
    assert.notEqual(ready.status, 200);
    const grpcInfer = await grpcCode(grpc.call('ModelInfer', simpleGrpcRequest()));
    assert.equal(grpcInfer.code, status.UNAVAILABLE, grpcInfer.details);
    assert.deepEqual(await grpc.call('ModelReady', { name: 'simple', version: '' }), {
      ready: false,
    });

    // Unloading again is a no-op.
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/unload`)).status,
      200,
    );

    await grpc.call('RepositoryModelLoad', { model_name: 'simple' }, { service: 'repository' });
    assert.equal(
      (await restIndex(server.httpUrl)).find((e) => e.name === 'simple')?.state,
      'READY',
    );
    await simpleOk(server);

    // And the other way round: gRPC unload, REST load.
    await grpc.call('RepositoryModelUnload', { model_name: 'simple' }, { service: 'inference' });
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest())).status,
      503,
    );
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    await simpleOk(server);
  });

  void it('runs lifecycle calls on one model in arrival order (load then unload on one connection ends UNAVAILABLE)', async () => {
    for (let i = 0; i < 5; i++) {
      // Both calls go out on one HTTP/2 connection, so the server receives the load first.
      const order: string[] = [];
      const load = grpc
        .call('RepositoryModelLoad', { model_name: 'simple' }, { service: 'repository' })
        .then(() => order.push('load'));
      const unload = grpc
        .call('RepositoryModelUnload', { model_name: 'simple' }, { service: 'repository' })
        .then(() => order.push('unload'));
      await Promise.all([load, unload]);
      assert.deepEqual(order, ['load', 'unload'], `round ${i}: answers in arrival order`);
      const entry = (await restIndex(server.httpUrl)).find((e) => e.name === 'simple');
      assert.equal(entry?.state, 'UNAVAILABLE', `round ${i}: the later call (unload) wins`);
    }
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    await simpleOk(server);
  });
});

void describe('reload', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let models: { dir: string; cleanup(): Promise<void> };

  before(async () => {
    models = await copyModels('examples/models/simple', 'test/fixtures/models/versioned');
    server = await startServer({ folder: models.dir });
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    assert.equal(await server.stop(), 0);
    await models.cleanup();
  });

  void it('is zero-downtime: no request fails while the model reloads, and the new model serves afterwards', async () => {
    let stop = false;
    const failures: string[] = [];
    let requests = 0;
    const v1Answers = new Set<string>();
    const worker = async (index: number): Promise<void> => {
      for (let i = 0; i < 400 && !stop; i++) {
        requests++;
        try {
          if (index % 2 === 0) {
            const result = await postJson(
              `${server.httpUrl}/v2/models/versioned/versions/1/infer`,
              versionedRestRequest([1, 2]),
            );
            if (result.status !== 200)
              failures.push(`REST ${result.status} ${JSON.stringify(result.body)}`);
            else v1Answers.add(JSON.stringify(outputData(result.body)));
          } else {
            const response = await grpc.call<{ outputs: { name: string }[] }>(
              'ModelInfer',
              versionedGrpcRequest(index % 4 === 1 ? '1' : ''),
            );
            if (response.outputs.length !== 1) failures.push('gRPC: no output');
          }
        } catch (error) {
          failures.push(`gRPC ${String(error)}`);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    try {
      // A plain reload of the same files, over both protocols.
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await postJson(`${server.httpUrl}/v2/repository/models/versioned/load`)).status,
          200,
        );
        await grpc.call(
          'RepositoryModelLoad',
          { model_name: 'versioned' },
          { service: 'repository' },
        );
      }
      // Swap version 1's model for version 2's (same signature, x+2) and reload.
      await copyFile(VERSION_2_ONNX, join(models.dir, 'versioned', '1', 'model.onnx'));
      assert.equal(
        (await postJson(`${server.httpUrl}/v2/repository/models/versioned/load`)).status,
        200,
      );
      const afterSwap = await postJson(
        `${server.httpUrl}/v2/models/versioned/versions/1/infer`,
        versionedRestRequest([1, 2]),
      );
      assert.deepEqual(outputData(afterSwap.body), [3, 4], 'version 1 now serves the new model');
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests > 50, `enough traffic ran during the reloads (${requests})`);
    assert.ok(v1Answers.has('[2,3]'), 'the old model served during the reloads');
    const index = await restIndex(server.httpUrl);
    assert.deepEqual(states(index.filter((e) => e.name === 'versioned')), [
      'versioned@1=READY',
      'versioned@2=READY',
    ]);
  });

  void it('keeps a reloading model READY in the index and in /v2/models until the new version is ready', async () => {
    let stop = false;
    const seen: string[] = [];
    const poller = async (): Promise<void> => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const [ready, all, list] = await Promise.all([
          restIndex(server.httpUrl, true),
          restIndex(server.httpUrl),
          fetch(`${server.httpUrl}/v2/models`).then(
            (r) => r.json() as Promise<{ models: string[] }>,
          ),
        ]);
        if (!ready.some((e) => e.name === 'simple')) seen.push('missing from the ready index');
        const entry = all.find((e) => e.name === 'simple');
        if (entry?.state !== 'READY') seen.push(`index state ${entry?.state ?? 'none'}`);
        if (!list.models.includes('simple')) seen.push('missing from /v2/models');
      }
    };
    const pollers = [poller(), poller()];
    try {
      for (let i = 0; i < 15; i++) {
        assert.equal(
          (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
          200,
        );
        await grpc.call('RepositoryModelLoad', { model_name: 'simple' }, { service: 'repository' });
      }
    } finally {
      stop = true;
      await Promise.all(pollers);
    }
    assert.deepEqual([...new Set(seen)], [], 'a serving model stays READY while it reloads');
  });

  void it('a reload picks up added and removed versions', async () => {
    const root = join(models.dir, 'versioned');
    await mkdir(join(root, '3'));
    await copyFile(join(root, '2', 'model.onnx'), join(root, '3', 'model.onnx'));
    await writeFile(
      join(root, '3', 'model-settings.json'),
      JSON.stringify({
        name: 'versioned',
        implementation: 'onnx',
        parameters: { uri: './model.onnx', version: '3' },
      }),
    );
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/versioned/load`)).status,
      200,
    );
    assert.deepEqual(
      states((await restIndex(server.httpUrl)).filter((e) => e.name === 'versioned')),
      ['versioned@1=READY', 'versioned@2=READY', 'versioned@3=READY'],
    );
    const latest = await postJson(
      `${server.httpUrl}/v2/models/versioned/infer`,
      versionedRestRequest(),
    );
    assert.equal((latest.body as { model_version: string }).model_version, '3');

    await rm(join(root, '1'), { recursive: true });
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/versioned/load`)).status,
      200,
    );
    assert.deepEqual(
      states((await restIndex(server.httpUrl)).filter((e) => e.name === 'versioned')),
      ['versioned@2=READY', 'versioned@3=READY'],
    );
    const gone = await postJson(
      `${server.httpUrl}/v2/models/versioned/versions/1/infer`,
      versionedRestRequest(),
    );
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    const meta = (await (await fetch(`${server.httpUrl}/v2/models/versioned`)).json()) as {
      versions: string[];
    };
    assert.deepEqual(meta.versions, ['2', '3']);
    const scrape = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    assert.ok(
      !scrape.split('\n').some((l) => l.includes('model="versioned"') && l.includes('version="1"')),
      "the removed version's series are gone",
    );
  });

  void it('a failed reload answers 422 / FAILED_PRECONDITION with a reason and keeps the old model serving', async () => {
    await simpleOk(server);
    const modelFile = join(models.dir, 'simple', 'model.onnx');
    const good = join(models.dir, 'simple.onnx.good');
    await copyFile(modelFile, good);
    await copyFile(BROKEN_ONNX, modelFile);

    const load = await postJson(`${server.httpUrl}/v2/repository/models/simple/load`);
    assert.equal(load.status, 422, JSON.stringify(load.body));
    const message = (load.body as { error: string }).error;
    assert.match(message, /simple/);
    assert.match(message, /ONNX|onnx|model\.onnx/);
    assert.doesNotMatch(
      message,
      new RegExp(models.dir.replaceAll('/', '\\/')),
      'no absolute path in the reason',
    );
    const grpcLoad = await grpcCode(
      grpc.call('RepositoryModelLoad', { model_name: 'simple' }, { service: 'repository' }),
    );
    assert.equal(grpcLoad.code, status.FAILED_PRECONDITION);
    assert.match(grpcLoad.details, /simple/);

    await simpleOk(server);
    const simpleGrpc = await grpc.call<{ raw_output_contents: Buffer[] }>(
      'ModelInfer',
      simpleGrpcRequest(),
    );
    assert.equal(simpleGrpc.raw_output_contents[0]?.readInt32LE(0), 2);
    const entry = (await restIndex(server.httpUrl)).find((e) => e.name === 'simple');
    assert.equal(entry?.state, 'READY');
    assert.match(entry.reason, /fail/i);
    assert.ok((await restIndex(server.httpUrl, true)).some((e) => e.name === 'simple'));

    // Once the file is fixed, a load succeeds and clears the reason.
    await copyFile(good, modelFile);
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    const fixed = (await restIndex(server.httpUrl)).find((e) => e.name === 'simple');
    assert.deepEqual([fixed?.state, fixed?.reason], ['READY', '']);
    await simpleOk(server);
  });

  void it('a failed first load leaves the model UNAVAILABLE with the reason, and nothing half-registered', async () => {
    await postJson(`${server.httpUrl}/v2/repository/models/simple/unload`);
    const modelFile = join(models.dir, 'simple', 'model.onnx');
    const good = join(models.dir, 'simple.onnx.good');
    await copyFile(BROKEN_ONNX, modelFile);
    const load = await postJson(`${server.httpUrl}/v2/repository/models/simple/load`);
    assert.equal(load.status, 422);
    const entry = (await restIndex(server.httpUrl)).find((e) => e.name === 'simple');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry.reason, /ONNX|onnx/);
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest())).status,
      503,
    );
    await copyFile(good, modelFile);
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    await simpleOk(server);
  });
});

void describe('load_models_at_startup=false', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;

  before(async () => {
    server = await startServer({ env: { TESSERA_LOAD_MODELS_AT_STARTUP: 'false' } });
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    assert.equal(await server.stop(), 0);
  });

  void it('starts with every model UNAVAILABLE; load makes them READY', async () => {
    assert.equal(
      (await fetch(`${server.httpUrl}/v2/health/ready`)).status,
      200,
      'the server itself is ready',
    );
    assert.deepEqual(states(await restIndex(server.httpUrl)), [
      'iris=UNAVAILABLE',
      'simple=UNAVAILABLE',
    ]);
    assert.deepEqual(await restIndex(server.httpUrl, true), []);
    assert.deepEqual(await grpcIndex(grpc, true), []);
    const infer = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 503);
    assert.ok(infer.headers.get('retry-after'));

    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    await grpc.call('RepositoryModelLoad', { model_name: 'iris' }, { service: 'inference' });
    await waitFor(
      async () => (await restIndex(server.httpUrl, true)).length === 2,
      'both models READY',
    );
    assert.deepEqual(states(await restIndex(server.httpUrl)), ['iris@1=READY', 'simple=READY']);
    await simpleOk(server);
    const iris = await grpc.call<{ outputs: unknown[] }>('ModelInfer', irisGrpcRawRequest(2));
    assert.equal(iris.outputs.length, 2);
  });
});

void describe('a long-running inference', () => {
  let server: ServerProcess;
  let models: { dir: string; cleanup(): Promise<void> };

  before(async () => {
    models = await copyModels('examples/models/simple', 'test/fixtures/models/slow');
    server = await startServer({ folder: models.dir });
  });

  after(async () => {
    assert.equal(await server.stop(), 0);
    await models.cleanup();
  });

  void it('the slow fixture computes y = x + n', async () => {
    const result = await postJson(
      `${server.httpUrl}/v2/models/slow/infer`,
      slowRestRequest(1000, [0, 1, 2, 3]),
    );
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(outputData(result.body), [1000, 1001, 1002, 1003]);
  });

  // onnxruntime-node 1.30 runs InferenceSession.run synchronously on the calling thread (its
  // backend only defers the call with setImmediate). The ONNX runtime therefore keeps sessions in
  // worker threads (parallel_workers, default 1), so a long inference never stalls the event loop:
  // health probes, the index and timers (deadlines, drain timeouts) keep working.
  void it('liveness and the index answer while a long inference runs', async () => {
    // Events, not timing: the probes are sent once the server reports the inference in flight,
    // and pass if the gauge still shows it after both were answered. On a CPU fast enough to
    // finish first, the run is repeated with 16 times the work instead of failing.
    const inFlight = async (): Promise<number> => {
      const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('tessera_model_infer_in_flight{') && l.includes('model="slow"'));
      return Number(line?.slice(line.lastIndexOf(' ') + 1) ?? 0);
    };
    let answeredDuringInference = false;
    for (let n = 4_000_000; n <= 64_000_000 && !answeredDuringInference; n *= 16) {
      let finished = false;
      // A generous client timeout: how long the loop takes depends on the machine.
      const long = postJson(
        `${server.httpUrl}/v2/models/slow/infer`,
        slowRestRequest(n),
        {},
        600_000,
      ).then((r) => ((finished = true), r));
      await waitFor(async () => finished || (await inFlight()) === 1, 'the inference to start');
      const live = await fetch(`${server.httpUrl}/v2/health/live`);
      const index = await fetch(`${server.httpUrl}/v2/repository/index`, { method: 'POST' });
      assert.equal(live.status, 200);
      assert.equal(index.status, 200);
      answeredDuringInference = !finished && (await inFlight()) === 1;
      const result = await long;
      assert.equal(result.status, 200);
    }
    assert.ok(answeredDuringInference, 'the probes were answered only after the inference ended');
  });
});

// Unload while requests run, on the slow fixture: each request loops `n` times inside the model,
// so requests are still in flight when the unload arrives whatever the CPU (a round in which they
// all finished first is repeated with 16 times the work, bounded). The drain waits for them all.
void describe('unload with requests in flight', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let models: { dir: string; cleanup(): Promise<void> };

  before(async () => {
    models = await copyModels('test/fixtures/models/slow');
    // The drain bound only guards a hang; how long the requests take depends on the machine.
    server = await startServer({
      folder: models.dir,
      env: { TESSERA_DRAIN_TIMEOUT_SECONDS: '600' },
    });
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    assert.equal(await server.stop(), 0);
    await models.cleanup();
  });

  void it('every in-flight request completes, later ones get 503', async () => {
    const N = 4;
    const labels = { model: 'slow' };
    let unloaded = false;
    for (let n = 1_000_000; n <= 256_000_000 && !unloaded; n *= 16) {
      const done: { ok: boolean; error?: string }[] = [];
      const calls = Array.from({ length: N }, () =>
        grpc.call('ModelInfer', slowGrpcRequest(n), { deadlineMs: 600_000 }).then(
          () => done.push({ ok: true }),
          (error: unknown) => done.push({ ok: false, error: String(error) }),
        ),
      );
      let inFlight = 0;
      await waitFor(
        async () => {
          inFlight = await sample(server, 'tessera_model_infer_in_flight', labels);
          return inFlight === N || done.length > 0;
        },
        'every request to reach the model',
        60_000,
      );
      if (inFlight !== N) {
        await Promise.all(calls);
        continue;
      }
      const unload = await postJson(`${server.httpUrl}/v2/repository/models/slow/unload`);
      assert.equal(unload.status, 200, JSON.stringify(unload.body));
      unloaded = true;
      await Promise.all(calls);
      assert.deepEqual(
        done.filter((d) => !d.ok),
        [],
        'every in-flight request succeeded',
      );
    }
    assert.ok(unloaded, 'the requests were still in flight when unload was sent');
    const drainTimeouts = server.logs.filter(
      (l) => (l as { msg?: string }).msg?.startsWith('Drain timeout') === true,
    );
    assert.deepEqual(drainTimeouts, [], 'the unload waited for the requests instead of timing out');
    const later = await postJson(`${server.httpUrl}/v2/models/slow/infer`, slowRestRequest(1));
    assert.equal(later.status, 503);
    assert.equal(
      (await grpcCode(grpc.call('ModelInfer', slowGrpcRequest(1)))).code,
      status.UNAVAILABLE,
    );
    assert.equal((await fetch(`${server.httpUrl}/v2/health/live`)).status, 200);
    assert.equal((await postJson(`${server.httpUrl}/v2/repository/models/slow/load`)).status, 200);
  });
});

/** The little-endian FP32 values of one raw_output_contents entry. */
function rawFloat32(bytes: Buffer | undefined): number[] {
  assert.ok(bytes, 'the response has raw_output_contents');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}
