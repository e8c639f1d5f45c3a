// Adaptive batching on the real server with the real iris ONNX model ([N, 4] FP32): concurrent
// REST and gRPC requests of mixed row counts (and one invalid request among them) are answered
// exactly as the same model answers them unbatched, batches of more than one request form
// (statistics extension and metrics), and tritonclient reads the statistics and the
// dynamic_batching config on both protocols.
import assert from 'node:assert/strict';
import { readFile, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { tritonStatistics } from '../../support/python-peer.js';
import { copyModels, startServer, type ServerProcess } from '../../support/server-process.js';

const BATCHED = 'iris-batched';
const SOLO = 'iris';

interface Answer {
  label: number[];
  probabilities: number[];
}

/** Deterministic iris-like rows: request `i` has 1–3 rows. */
function rowsOf(i: number): number[][] {
  return Array.from({ length: (i % 3) + 1 }, (_, r) => [
    4.5 + ((i * 7 + r) % 30) / 10,
    2.0 + ((i * 3 + r) % 20) / 10,
    1.0 + ((i * 11 + r) % 55) / 10,
    0.1 + ((i * 5 + r) % 24) / 10,
  ]);
}

async function restInfer(server: ServerProcess, model: string, rows: number[][]): Promise<Answer> {
  const response = await fetch(`${server.httpUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }],
    }),
  });
  const body = (await response.json()) as {
    outputs?: { name: string; shape: number[]; data: number[] }[];
    error?: string;
  };
  assert.equal(response.status, 200, JSON.stringify(body));
  const byName = new Map((body.outputs ?? []).map((o) => [o.name, o]));
  assert.deepEqual(byName.get('label')?.shape, [rows.length]);
  assert.deepEqual(byName.get('probabilities')?.shape, [rows.length, 3]);
  return {
    label: byName.get('label')?.data ?? [],
    probabilities: byName.get('probabilities')?.data ?? [],
  };
}

interface GrpcOutput {
  name: string;
  shape: string[];
}

async function grpcInfer(client: GrpcTestClient, model: string, rows: number[][]): Promise<Answer> {
  const raw = Buffer.from(Float32Array.from(rows.flat()).buffer);
  const reply = await client.call<{ outputs: GrpcOutput[]; raw_output_contents: Buffer[] }>(
    'ModelInfer',
    {
      model_name: model,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4] }],
      raw_input_contents: [raw],
    },
  );
  const answer: Answer = { label: [], probabilities: [] };
  reply.outputs.forEach((o, i) => {
    const bytes = reply.raw_output_contents[i] ?? Buffer.alloc(0);
    const copy = new Uint8Array(bytes).buffer;
    if (o.name === 'label') {
      assert.deepEqual(o.shape.map(Number), [rows.length]);
      answer.label = [...new BigInt64Array(copy)].map(Number);
    } else {
      assert.deepEqual(o.shape.map(Number), [rows.length, 3]);
      answer.probabilities = [...new Float32Array(copy)];
    }
  });
  return answer;
}

/** The REST numbers are FP32 values printed as JSON; compare them as FP32. */
const asF32 = (a: Answer): Answer => ({
  label: a.label,
  probabilities: [...Float32Array.from(a.probabilities)],
});

/**
 * Labels must match exactly; probabilities to 1e-6. onnxruntime's CPU kernels take other vector
 * paths for a batch of many rows than for one (MLAS GEMM / softmax), so the same row can differ in
 * its last FP32 bit between batch sizes (seen: 0.027784362 vs 0.027784370) — as with Triton's
 * dynamic batcher. A wrong split (a row of another request) differs by far more than that.
 */
function sameAnswer(got: Answer, want: Answer, what: string): void {
  assert.deepEqual(got.label, want.label, `${what}: labels`);
  assert.equal(got.probabilities.length, want.probabilities.length, `${what}: probabilities`);
  got.probabilities.forEach((p, j) => {
    const w = want.probabilities[j] ?? NaN;
    assert.ok(Math.abs(p - w) <= 1e-6, `${what}: probabilities[${j}] ${p} vs unbatched ${w}`);
  });
}

void describe('adaptive batching (iris, max_batch_size 16)', () => {
  let server: ServerProcess;
  let client: GrpcTestClient;
  let cleanup: () => Promise<void>;

  before(async () => {
    const models = await copyModels('examples/models/iris');
    cleanup = () => models.cleanup();
    // The same ONNX file twice: `iris` unbatched (the reference answer), `iris-batched` batching.
    await cp(join(models.dir, 'iris'), join(models.dir, BATCHED), { recursive: true });
    const settingsPath = join(models.dir, BATCHED, 'model-settings.json');
    const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as Record<string, unknown>;
    await writeFile(
      settingsPath,
      JSON.stringify({ ...settings, name: BATCHED, max_batch_size: 16, max_batch_time: 0.05 }),
    );
    server = await startServer({ folder: models.dir });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
    await cleanup();
  });

  void it('answers concurrent REST and gRPC requests as the unbatched model does', async () => {
    const count = 48;
    const requests = Array.from({ length: count }, (_, i) => rowsOf(i));
    const expected = await Promise.all(requests.map((rows) => restInfer(server, SOLO, rows)));
    const invalid = fetch(`${server.httpUrl}/v2/models/${BATCHED}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }],
      }),
    });
    const [rest, grpc, bad] = await Promise.all([
      Promise.all(requests.map((rows) => restInfer(server, BATCHED, rows))),
      Promise.all(requests.map((rows) => grpcInfer(client, BATCHED, rows))),
      invalid,
    ]);
    // The invalid request fails alone, with its own precise error; every other request succeeded.
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /input/);
    for (let i = 0; i < count; i++) {
      const want = asF32(expected[i] as Answer);
      sameAnswer(asF32(rest[i] as Answer), want, `REST request ${i}`);
      sameAnswer(grpc[i] as Answer, want, `gRPC request ${i}`);
    }
  });

  void it('reports batches of more than one request in the statistics extension', async () => {
    const response = await fetch(`${server.httpUrl}/v2/models/${BATCHED}/stats`);
    assert.equal(response.status, 200);
    const { model_stats } = (await response.json()) as {
      model_stats: {
        inference_count: number;
        execution_count: number;
        inference_stats: { success: { count: number }; queue: { count: number; ns: number } };
        batch_stats: { batch_size: number; compute_infer: { count: number } }[];
      }[];
    };
    const [stats] = model_stats;
    assert.ok(stats !== undefined);
    // 2 × 48 requests of 1–3 rows (2 × 96 rows); the invalid one never reached the model.
    assert.equal(stats.inference_stats.success.count, 96);
    assert.equal(stats.inference_count, 192);
    assert.ok(
      stats.execution_count < 96,
      `${stats.execution_count} executions for 96 requests: no batch formed`,
    );
    assert.ok(stats.batch_stats.some((b) => b.batch_size > 3));
    const executions = stats.batch_stats.reduce((n, b) => n + b.compute_infer.count, 0);
    assert.equal(executions, stats.execution_count);
    assert.equal(stats.inference_stats.queue.count, 96);
    assert.ok(stats.inference_stats.queue.ns > 0, 'queued requests report their wait');
  });

  void it('exports batch size and queue wait histograms', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const count = (name: string): number =>
      Number(
        new RegExp(`^${name}_count\\{model="${BATCHED}",version="1"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1] ?? NaN,
      );
    assert.equal(count('tessera_model_batch_queue_wait_seconds'), 96);
    const executions = count('tessera_model_batch_size');
    assert.ok(executions > 0 && executions < 96, `${executions} executions`);
    const rows = Number(
      new RegExp(
        `^tessera_model_batch_size_sum\\{model="${BATCHED}",version="1"\\} (\\d+)$`,
        'm',
      ).exec(text)?.[1] ?? NaN,
    );
    assert.equal(rows, 192);
  });

  void it('is read by tritonclient on both protocols, with dynamic_batching in the config', async () => {
    const answer = await tritonStatistics({
      http: `127.0.0.1:${server.ports.http}`,
      grpc: `127.0.0.1:${server.ports.grpc}`,
      model: BATCHED,
    });
    for (const protocol of ['http', 'grpc'] as const) {
      const doc = answer[protocol];
      assert.ok(!('error' in doc), `${protocol}: ${'error' in doc ? doc.error : ''}`);
      assert.equal(Number(doc.config['max_batch_size']), 16, protocol);
      assert.deepEqual(
        doc.config['dynamic_batching'],
        { max_queue_delay_microseconds: protocol === 'http' ? 50_000 : '50000' },
        protocol,
      );
      const [stats] = doc.stats.model_stats as {
        execution_count: number | string;
        batch_stats: { batch_size: number | string }[];
      }[];
      assert.ok(stats !== undefined, protocol);
      assert.ok(Number(stats.execution_count) < 96, protocol);
      assert.ok(
        stats.batch_stats.some((b) => Number(b.batch_size) > 3),
        `${protocol} batch_stats`,
      );
    }
  });
});

void describe('adaptive batching: a bad request inside a batch (custom runtime)', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({ folder: 'test/fixtures/batching' });
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  const post = (values: number[]): Promise<Response> =>
    fetch(`${server.httpUrl}/v2/models/doubler/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [values.length / 2, 2], data: values }],
      }),
    });

  void it('fails only the bad member; every other member gets its own answer', async () => {
    const inputs = Array.from({ length: 24 }, (_, i) => (i === 7 ? [-3, 1] : [i, i + 0.5]));
    const responses = await Promise.all(inputs.map(post));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
      outputs?: { data: number[] }[];
      error?: string;
    }[];
    responses.forEach((r, i) => {
      if (i === 7) {
        assert.equal(r.status, 400);
        assert.match(bodies[i]?.error ?? '', /negative value -3 in input 'x'/);
      } else {
        assert.equal(r.status, 200, JSON.stringify(bodies[i]));
        assert.deepEqual(
          bodies[i]?.outputs?.[0]?.data,
          (inputs[i] as number[]).map((v) => v * 2),
        );
      }
    });
  });

  void it('batches good requests together', async () => {
    const before = (await (await fetch(`${server.httpUrl}/v2/models/doubler/stats`)).json()) as {
      model_stats: { execution_count: number }[];
    };
    const responses = await Promise.all(Array.from({ length: 16 }, (_, i) => post([i, i])));
    assert.ok(responses.every((r) => r.status === 200));
    const after = (await (await fetch(`${server.httpUrl}/v2/models/doubler/stats`)).json()) as {
      model_stats: { execution_count: number }[];
    };
    const executions =
      (after.model_stats[0]?.execution_count ?? 0) - (before.model_stats[0]?.execution_count ?? 0);
    assert.ok(executions > 0 && executions < 16, `${executions} executions for 16 requests`);
  });
});
