// The response cache on the real server with the real iris ONNX model: with the server's
// cache_enabled and the model's, a repeated request is answered from the cache whichever way it
// is sent (JSON, the binary extension, gRPC raw contents), carries its own id, and counts as a
// cache hit in Triton's statistics (no execution) and in the metrics; a different request misses;
// with cache_size 2 the least recently used answer is evicted; a model without cache_enabled and
// a reloaded model never answer from it; model configuration reports response_cache.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { copyModels, startServer, type ServerProcess } from '../../support/server-process.js';

interface Stats {
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'cache_hit' | 'cache_miss', { count: number; ns: number }>;
}

interface RestOutput {
  name: string;
  shape: number[];
  data: number[];
}

const ROWS = {
  a: [5.1, 3.5, 1.4, 0.2],
  b: [6.7, 3.0, 5.2, 2.3],
  c: [5.9, 3.0, 4.2, 1.5],
};

async function stats(server: ServerProcess, model: string): Promise<Stats> {
  const response = await fetch(`${server.httpUrl}/v2/models/${model}/stats`);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { model_stats: Stats[] };
  const [only] = body.model_stats;
  assert.ok(only !== undefined);
  return only;
}

async function jsonInfer(
  server: ServerProcess,
  model: string,
  row: number[],
  id: string,
): Promise<{ id: string; outputs: RestOutput[] }> {
  const response = await fetch(`${server.httpUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }],
    }),
  });
  const body = (await response.json()) as { id: string; outputs: RestOutput[] };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

/** The same request through the binary tensor extension, outputs asked for as JSON. */
async function binaryInfer(server: ServerProcess, model: string, row: number[]): Promise<number[]> {
  const raw = Buffer.from(Float32Array.from(row).buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [1, 4],
          parameters: { binary_data_size: raw.length },
        },
      ],
    }),
  );
  const response = await fetch(`${server.httpUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
    body: Buffer.concat([header, raw]),
  });
  const body = (await response.json()) as { outputs: RestOutput[] };
  assert.equal(response.status, 200, JSON.stringify(body));
  return probabilities(body.outputs);
}

async function grpcInfer(client: GrpcTestClient, model: string, row: number[]): Promise<number[]> {
  const reply = await client.call<{ outputs: { name: string }[]; raw_output_contents: Buffer[] }>(
    'ModelInfer',
    {
      model_name: model,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(Float32Array.from(row).buffer)],
    },
  );
  const index = reply.outputs.findIndex((o) => o.name === 'probabilities');
  const bytes = reply.raw_output_contents[index] ?? Buffer.alloc(0);
  return [...new Float32Array(new Uint8Array(bytes).buffer)];
}

function probabilities(outputs: readonly RestOutput[]): number[] {
  const found = outputs.find((o) => o.name === 'probabilities');
  assert.ok(found !== undefined, 'probabilities output');
  return [...Float32Array.from(found.data)];
}

async function metric(server: ServerProcess, name: string, model?: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(name) && (model === undefined || l.includes(`model="${model}"`)));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

void describe('response cache (iris)', () => {
  let server: ServerProcess;
  let client: GrpcTestClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const models = await copyModels('examples/models/iris', 'examples/models/simple');
    cleanup = () => models.cleanup();
    const settingsPath = join(models.dir, 'iris', 'model-settings.json');
    const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as Record<string, unknown>;
    await writeFile(settingsPath, JSON.stringify({ ...settings, cache_enabled: true }));
    server = await startServer({
      folder: models.dir,
      env: { TESSERA_CACHE_ENABLED: 'true', TESSERA_CACHE_SIZE: '2' },
    });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
    await cleanup();
  });

  void it('answers a repeated request from the cache on every protocol', async () => {
    const before = await stats(server, 'iris');
    const first = await jsonInfer(server, 'iris', ROWS.a, 'first');
    const again = await jsonInfer(server, 'iris', ROWS.a, 'again');
    assert.equal(again.id, 'again', 'a cached answer carries its own request id');
    assert.deepEqual(again.outputs, first.outputs);
    const expected = probabilities(first.outputs);
    assert.deepEqual(await binaryInfer(server, 'iris', ROWS.a), expected);
    assert.deepEqual(await grpcInfer(client, 'iris', ROWS.a), expected);
    const after = await stats(server, 'iris');
    const delta = (k: 'success' | 'cache_hit' | 'cache_miss') =>
      after.inference_stats[k].count - before.inference_stats[k].count;
    assert.equal(delta('cache_miss'), 1);
    assert.equal(delta('cache_hit'), 3);
    assert.equal(delta('success'), 4);
    assert.equal(after.inference_count - before.inference_count, 4);
    assert.equal(after.execution_count - before.execution_count, 1, 'the model ran once');
    assert.ok(after.inference_stats.cache_hit.ns > 0);
    assert.equal(await metric(server, 'tessera_model_cache_hits_total', 'iris'), 3);
    assert.equal(await metric(server, 'tessera_model_cache_misses_total', 'iris'), 1);
  });

  void it('misses on another request and evicts the least recently used answer', async () => {
    const before = await stats(server, 'iris');
    await jsonInfer(server, 'iris', ROWS.b, 'b');
    await jsonInfer(server, 'iris', ROWS.c, 'c');
    // cache_size 2: a, b, c in that order leaves b and c; a runs again.
    await jsonInfer(server, 'iris', ROWS.a, 'a');
    await jsonInfer(server, 'iris', ROWS.a, 'a-again');
    const after = await stats(server, 'iris');
    assert.equal(
      after.inference_stats.cache_miss.count - before.inference_stats.cache_miss.count,
      3,
    );
    assert.equal(after.inference_stats.cache_hit.count - before.inference_stats.cache_hit.count, 1);
    assert.equal(after.execution_count - before.execution_count, 3);
    assert.ok((await metric(server, 'tessera_response_cache_evictions_total')) >= 2);
  });

  void it('never answers a model without cache_enabled from the cache', async () => {
    const request = {
      inputs: [
        {
          name: 'INPUT0',
          datatype: 'INT32',
          shape: [1, 16],
          data: Array.from({ length: 16 }, (_, i) => i),
        },
        {
          name: 'INPUT1',
          datatype: 'INT32',
          shape: [1, 16],
          data: Array.from({ length: 16 }, () => 1),
        },
      ],
    };
    const before = await stats(server, 'simple');
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${server.httpUrl}/v2/models/simple/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
      });
      assert.equal(response.status, 200, await response.text());
    }
    const after = await stats(server, 'simple');
    assert.equal(after.execution_count - before.execution_count, 2);
    assert.equal(after.inference_stats.cache_hit.count, 0);
    assert.equal(after.inference_stats.cache_miss.count, 0);
  });

  void it('reports response_cache in the model configuration', async () => {
    const iris = (await (await fetch(`${server.httpUrl}/v2/models/iris/config`)).json()) as {
      response_cache?: { enable: boolean };
    };
    assert.deepEqual(iris.response_cache, { enable: true });
    const simple = (await (await fetch(`${server.httpUrl}/v2/models/simple/config`)).json()) as {
      response_cache?: unknown;
    };
    assert.equal(simple.response_cache, undefined);
    const grpc = await client.call<{ config: { response_cache?: { enable: boolean } | null } }>(
      'ModelConfig',
      { name: 'iris' },
    );
    assert.equal(grpc.config.response_cache?.enable, true);
  });

  void it('starts afresh after a reload, and a load config can turn caching off', async () => {
    await jsonInfer(server, 'iris', ROWS.b, 'warm');
    const reload = await fetch(`${server.httpUrl}/v2/repository/models/iris/load`, {
      method: 'POST',
    });
    assert.equal(reload.status, 200, await reload.text());
    const fresh = await stats(server, 'iris');
    assert.equal(fresh.inference_stats.cache_hit.count, 0);
    await jsonInfer(server, 'iris', ROWS.b, 'after-reload');
    const reloaded = await stats(server, 'iris');
    assert.equal(reloaded.inference_stats.cache_miss.count, 1, 'the reloaded version misses');
    assert.equal(reloaded.execution_count, 1);
    const off = await fetch(`${server.httpUrl}/v2/repository/models/iris/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        parameters: { config: JSON.stringify({ response_cache: { enable: false } }) },
      }),
    });
    assert.equal(off.status, 200, await off.text());
    await jsonInfer(server, 'iris', ROWS.b, 'x');
    await jsonInfer(server, 'iris', ROWS.b, 'y');
    const uncached = await stats(server, 'iris');
    assert.equal(uncached.execution_count, 2);
    assert.equal(uncached.inference_stats.cache_hit.count, 0);
  });
});
