// Streaming and generate on the real server: REST `generate` (Triton's generate document and the
// V2 alias), `infer_stream` / `generate_stream` as server-sent events read with a plain fetch, and
// gRPC `ModelStreamInfer` through tritonclient's own stream API (start_stream /
// async_stream_infer). A client that goes away mid-stream, over either protocol, closes the
// runtime's iterator: the `ticker` fixture counts the streams whose `finally` ran.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allEvents, post, sseEvents } from '../../support/sse.js';
import { runStreamInfer } from '../../support/python-peer.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';
import { waitFor } from './lifecycle-helpers.js';

const PROMPT = 'What is the capital of France?';
const WORDS = PROMPT.split(' ');

const prompt = (text: string) => ({
  inputs: [{ name: 'prompt', datatype: 'BYTES', shape: [1], data: [text] }],
});

const firstData = (event: Record<string, unknown>): unknown =>
  (event['outputs'] as { data: unknown[] }[] | undefined)?.[0]?.data[0];

/** The ticker's counters of streams opened and closed (its `finally` ran). */
async function tickerStats(server: ServerProcess): Promise<{ opened: number; closed: number }> {
  const res = await post(server, '/v2/models/ticker/infer', {
    inputs: [{ name: 'command', datatype: 'BYTES', shape: [1], data: ['stats'] }],
  });
  const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
  const value = (name: string) => body.outputs.find((o) => o.name === name)?.data[0] ?? -1;
  return { opened: value('opened'), closed: value('closed') };
}

void describe('streaming and generate', () => {
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-stream-'));
    await cp(join(REPO_ROOT, 'examples/custom-runtime/text-model'), join(dir, 'text-model'), {
      recursive: true,
    });
    for (const name of ['ticker', 'faulty']) {
      await cp(join(REPO_ROOT, 'test/fixtures/custom-runtimes', name), join(dir, name), {
        recursive: true,
      });
    }
    await cp(join(REPO_ROOT, 'examples/models/iris'), join(dir, 'iris'), { recursive: true });
    server = await startServer({ folder: dir, timeoutMs: 60_000 });
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  void it('answers generate with a generate document, and a V2 request as infer', async () => {
    const doc = await post(server, '/v2/models/text-model/generate', { prompt: 'a b c', id: 'g1' });
    assert.equal(doc.status, 200);
    assert.deepEqual(await doc.json(), { model_name: 'text-model', id: 'g1', output: 'c b a' });
    const v2 = await post(server, '/v2/models/text-model/generate', prompt('a b'));
    assert.equal(v2.status, 200);
    assert.equal(firstData((await v2.json()) as Record<string, unknown>), 'b a');
  });

  void it('streams one event per response over server-sent events', async () => {
    for (const route of ['infer_stream', 'generate_stream']) {
      const res = await post(server, `/v2/models/text-model/${route}`, prompt(PROMPT));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const events = await allEvents(res);
      assert.deepEqual(events.map(firstData), WORDS, route);
      assert.equal(new Set(events.map((e) => e['id'])).size, 1, 'every event has the request id');
    }
    const docs = await allEvents(
      await post(server, '/v2/models/text-model/generate_stream', { prompt: 'x y' }),
    );
    assert.deepEqual(
      docs.map((d) => d['output']),
      ['x', 'y'],
    );
  });

  void it('streams exactly one event for a runtime that does not stream', async () => {
    const res = await post(server, '/v2/models/iris/infer_stream', {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    });
    assert.equal(res.status, 200);
    const events = await allEvents(res);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.['model_name'], 'iris');
  });

  void it('answers errors before the first event with a status, and after it with an error event', async () => {
    const missing = await post(server, '/v2/models/nope/infer_stream', prompt('x'));
    assert.equal(missing.status, 404);
    assert.match(
      ((await missing.json()) as { error: string }).error,
      /Request for unknown model: 'nope' is not found/,
    );
    const bad = await post(server, '/v2/models/text-model/generate_stream', { prompt: 3.5 });
    assert.equal(bad.status, 400);
    const res = await post(server, '/v2/models/faulty/infer_stream', {
      inputs: [{ name: 'mode', datatype: 'BYTES', shape: [1], data: ['throw'] }],
    });
    assert.equal(res.status, 200);
    const events = await allEvents(res);
    assert.equal(firstData(events[0] ?? {}), 'first');
    assert.match(String(events[1]?.['error']), /inference failed in model 'faulty'/);
    assert.doesNotMatch(String(events[1]?.['error']), /srv\/secret/);
    assert.equal(events.length, 2);
  });

  void it('closes the runtime stream when an SSE client disconnects mid-stream', async () => {
    const before = await tickerStats(server);
    const controller = new AbortController();
    const res = await post(
      server,
      '/v2/models/ticker/infer_stream',
      { inputs: [{ name: 'command', datatype: 'BYTES', shape: [1], data: ['go'] }] },
      controller.signal,
    );
    let seen = 0;
    for await (const event of sseEvents(res)) {
      seen++;
      assert.equal(firstData(event), seen);
      if (seen === 3) break;
    }
    controller.abort();
    await waitFor(
      async () => (await tickerStats(server)).closed === before.closed + 1,
      "the ticker's stream to close",
      30_000,
    );
    const after = await tickerStats(server);
    assert.equal(after.opened, before.opened + 1);
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    assert.equal(live.status, 200);
  });

  void it('answers ModelStreamInfer through tritonclient with decoupled responses', async () => {
    const responses = await runStreamInfer({
      grpc: server.grpcAddress,
      requests: [
        {
          model: 'text-model',
          id: 'r1',
          input: 'prompt',
          text: PROMPT,
          output: 'output',
          final: true,
        },
        { model: 'nope', id: 'r2', input: 'prompt', text: 'x', output: 'output', final: true },
        {
          model: 'faulty',
          id: 'r3',
          input: 'mode',
          text: 'input-error',
          output: 'output',
          final: true,
        },
        { model: 'text-model', id: 'r4', input: 'prompt', text: 'single', output: 'output' },
      ],
    });
    const r1 = responses.filter((r) => r.id === 'r1');
    assert.deepEqual(
      r1.filter((r) => r.final === false).map((r) => r.values?.[0]),
      WORDS,
    );
    assert.equal(r1.at(-1)?.final, true, 'the empty final response comes last');
    assert.equal(r1.at(-1)?.values, undefined);
    const errors = responses.filter((r) => r.error !== undefined).map((r) => r.error);
    assert.equal(errors.length, 2, JSON.stringify(responses));
    assert.match(errors[0] ?? '', /Request for unknown model: 'nope' is not found/);
    // faulty streams one good response, then the refusal, in the error_message of its request.
    assert.deepEqual(responses.find((r) => r.id === 'r3')?.values, ['first']);
    assert.match(errors[1] ?? '', /model 'faulty': mode input-error is refused/);
    const r4 = responses.filter((r) => r.id === 'r4');
    assert.deepEqual(
      r4.map((r) => r.values),
      [['single']],
    );
    assert.equal(r4[0]?.final, null, 'no final flag unless asked for');
  });

  void it('closes the runtime stream when a gRPC client cancels mid-stream', async () => {
    const before = await tickerStats(server);
    const responses = await runStreamInfer({
      grpc: server.grpcAddress,
      requests: [
        { model: 'ticker', id: 't1', input: 'command', text: 'go', output: 'tick', final: true },
      ],
      cancelAfter: 3,
    });
    assert.deepEqual(
      responses.slice(0, 3).map((r) => r.values?.[0]),
      ['1', '2', '3'],
    );
    await waitFor(
      async () => (await tickerStats(server)).closed === before.closed + 1,
      "the ticker's stream to close after the cancel",
      30_000,
    );
  });

  void it('counts streamed inferences in the model metrics', async () => {
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('tessera_model_infer_requests_total{') &&
          l.includes('model="text-model"') &&
          l.includes('outcome="success"'),
      );
    assert.ok(line, 'a success counter for text-model');
    assert.ok(Number(line.split(' ').at(-1)) >= 4, line);
  });
});

void describe('streaming statistics', () => {
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-stream-stats-'));
    await cp(join(REPO_ROOT, 'examples/custom-runtime/text-model'), join(dir, 'text-model'), {
      recursive: true,
    });
    server = await startServer({ folder: dir, timeoutMs: 60_000 });
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  void it("counts a finished stream as one success and a failed one as a failure in Triton's statistics", async () => {
    type Stats = {
      model_stats: {
        inference_count: number;
        inference_stats: { success: { count: number }; fail: { count: number } };
      }[];
    };
    const stats = async () =>
      ((await (await fetch(`${server.httpUrl}/v2/models/text-model/stats`)).json()) as Stats)
        .model_stats[0];
    const before = await stats();
    const events = await allEvents(
      await post(server, '/v2/models/text-model/infer_stream', prompt(PROMPT)),
    );
    assert.equal(events.length, WORDS.length);
    const bad = await post(server, '/v2/models/text-model/infer_stream', {
      inputs: [{ name: 'prompt', datatype: 'FP32', shape: [1], data: [1] }],
    });
    assert.equal(bad.status, 400, await bad.text());
    const after = await stats();
    assert.equal(
      after?.inference_stats.success.count,
      (before?.inference_stats.success.count ?? 0) + 1,
    );
    assert.equal(after?.inference_count, (before?.inference_count ?? 0) + 1);
    assert.equal(after?.inference_stats.fail.count, (before?.inference_stats.fail.count ?? 0) + 1);
  });
});

void describe('streams at shutdown', () => {
  void it('ends a running stream with an error event and exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-stream-stop-'));
    try {
      await cp(join(REPO_ROOT, 'test/fixtures/custom-runtimes/ticker'), join(dir, 'ticker'), {
        recursive: true,
      });
      const server = await startServer({ folder: dir, timeoutMs: 60_000 });
      const res = await post(server, '/v2/models/ticker/infer_stream', {
        inputs: [{ name: 'command', datatype: 'BYTES', shape: [1], data: ['go'] }],
      });
      const events = sseEvents(res);
      const first = await events.next();
      assert.equal(first.done, false);
      assert.equal(firstData(first.value), 1);
      const exited = server.stop();
      let last: Record<string, unknown> | undefined;
      for await (const event of events) last = event;
      assert.match(String(last?.['error']), /the server is shutting down; the stream was ended/);
      assert.equal(await exited, 0, 'server exits 0 on SIGTERM');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
