// The adaptive batcher against an in-memory runtime (no sockets): grouping, splitting, fallback,
// cancellation, the max_batch_time flush and the bounded queue.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AdaptiveBatcher,
  type BatchExecution,
  type BatchRun,
} from '../../../server/src/core/adaptive-batcher.js';
import type { RuntimeResult } from '../../../server/src/core/model-runtime.js';
import type { DecodedRequest, Tensor } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';

/** A [rows, 2] FP32 request whose values are `base + i`. */
function request(rows: number, base: number, extra: Partial<Tensor> = {}): DecodedRequest {
  const data = Float32Array.from({ length: rows * 2 }, (_, i) => base + i);
  return {
    id: `r${base}`,
    parameters: { headers: {} },
    inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 2], data, ...extra }],
  };
}

/** The model: y = x * 2 per element, one call per execution recorded; fails on any value < 0. */
function doubling(): { run: BatchRun; calls: number[]; release: () => void; hold: () => void } {
  const calls: number[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const run: BatchRun = async (req) => {
    const x = req.inputs[0];
    assert.ok(x !== undefined);
    calls.push(x.shape[0] ?? 0);
    await gate;
    const data = x.data as Float32Array;
    if (data.some((v) => v < 0)) throw new Error('negative input');
    const result: RuntimeResult = {
      outputs: [{ name: 'y', datatype: 'FP32', shape: [...x.shape], data: data.map((v) => v * 2) }],
      parameters: { content_type: 'np' },
    };
    return result;
  };
  return {
    run,
    calls,
    hold: () => {
      gate = new Promise((resolve) => (open = resolve));
    },
    release: () => {
      open();
    },
  };
}

function batcher(
  run: BatchRun,
  options: { maxBatchSize?: number; maxBatchTimeMs?: number; maxQueued?: number } = {},
): { b: AdaptiveBatcher; executions: BatchExecution[] } {
  const executions: BatchExecution[] = [];
  const b = new AdaptiveBatcher({
    model: 'm',
    maxBatchSize: options.maxBatchSize ?? 8,
    maxBatchTimeMs: options.maxBatchTimeMs ?? 60_000,
    maxQueued: options.maxQueued ?? 100,
    run,
    onExecution: (e) => executions.push(e),
  });
  return { b, executions };
}

const values = (t: Tensor | undefined): number[] => [...(t?.data as Float32Array)];

describe('AdaptiveBatcher', () => {
  it('joins mixed batch sizes up to max_batch_size rows and splits the answers back', async () => {
    const model = doubling();
    const { b, executions } = batcher(model.run, { maxBatchSize: 6 });
    const answers = await Promise.all([
      b.submit(request(1, 0)),
      b.submit(request(3, 100)),
      b.submit(request(2, 200)),
    ]);
    assert.deepEqual(model.calls, [6]);
    assert.deepEqual(
      answers.map((a) => a.result.outputs[0]?.shape),
      [
        [1, 2],
        [3, 2],
        [2, 2],
      ],
    );
    assert.deepEqual(values(answers[0]?.result.outputs[0]), [0, 2]);
    assert.deepEqual(values(answers[1]?.result.outputs[0]), [200, 202, 204, 206, 208, 210]);
    assert.deepEqual(values(answers[2]?.result.outputs[0]), [400, 402, 404, 406]);
    // Scalar response parameters are copied to every member (MLServer).
    assert.ok(answers.every((a) => a.result.parameters?.['content_type'] === 'np'));
    assert.deepEqual(
      executions.map((e) => [e.rows, e.requests]),
      [[6, 3]],
    );
  });

  it('starts a new batch when a request would overflow the current one', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 4, maxBatchTimeMs: 20 });
    await Promise.all([
      b.submit(request(3, 0)),
      b.submit(request(2, 10)),
      b.submit(request(2, 20)),
    ]);
    assert.deepEqual(model.calls, [3, 4]);
  });

  it('runs a request of max_batch_size rows or more alone, at once', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 4 });
    const answer = await b.submit(request(9, 0));
    assert.deepEqual(model.calls, [9]);
    assert.deepEqual(answer.result.outputs[0]?.shape, [9, 2]);
  });

  it('keeps requests of different trailing dimensions, datatypes or parameters apart', async () => {
    const runs: string[] = [];
    const run: BatchRun = (req) => {
      const x = req.inputs[0];
      runs.push(`${x?.datatype}:${x?.shape.join('x')}`);
      return Promise.resolve({ outputs: req.inputs.map((t) => ({ ...t, name: 'y' })) });
    };
    const { b } = batcher(run, { maxBatchSize: 4, maxBatchTimeMs: 10 });
    const wide: DecodedRequest = {
      id: 'w',
      parameters: {},
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }],
    };
    const ints: DecodedRequest = {
      id: 'i',
      parameters: {},
      inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 2], data: new Int32Array(2) }],
    };
    const custom: DecodedRequest = { ...request(1, 5), parameters: { custom: 'a' } };
    await Promise.all([
      b.submit(request(1, 0)),
      b.submit(wide),
      b.submit(ints),
      b.submit(custom),
      b.submit(request(1, 1)),
    ]);
    assert.deepEqual(runs.sort(), ['FP32:1x2', 'FP32:1x3', 'FP32:2x2', 'INT32:1x2']);
  });

  it('fails only the bad member when the batched call fails (members retried alone)', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 3 });
    const outcomes = await Promise.allSettled([
      b.submit(request(1, 1)),
      b.submit(request(1, -10)),
      b.submit(request(1, 3)),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const [first, bad, third] = outcomes;
    assert.ok(first?.status === 'fulfilled' && third?.status === 'fulfilled');
    assert.deepEqual(values(first.value.result.outputs[0]), [2, 4]);
    assert.deepEqual(values(third.value.result.outputs[0]), [6, 8]);
    assert.ok(bad?.status === 'rejected');
    assert.match(String(bad.reason), /negative input/);
    // One batched attempt, then each member alone.
    assert.deepEqual(model.calls, [3, 1, 1, 1]);
  });

  it('falls back to single runs when an output has no batch dimension', async () => {
    const run: BatchRun = (req) =>
      Promise.resolve({
        outputs: [
          {
            name: 's',
            datatype: 'FP32',
            shape: [1],
            data: Float32Array.of(req.inputs[0]?.shape[0] ?? 0),
          },
        ],
      });
    const { b, executions } = batcher(run, { maxBatchSize: 2 });
    const answers = await Promise.all([b.submit(request(1, 0)), b.submit(request(1, 1))]);
    assert.deepEqual(
      answers.map((a) => values(a.result.outputs[0])),
      [[1], [1]],
    );
    assert.deepEqual(
      executions.map((e) => e.rows),
      [1, 1],
    );
  });

  it('flushes a partial batch after max_batch_time', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 64, maxBatchTimeMs: 5 });
    const answers = await Promise.all([b.submit(request(1, 0)), b.submit(request(2, 10))]);
    assert.deepEqual(model.calls, [3]);
    assert.equal(answers.length, 2);
    assert.ok(answers.every((a) => a.dispatched > 0));
    assert.equal(b.queued, 0);
  });

  it('removes a cancelled member while it waits; the others are answered', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 3 });
    const gone = new AbortController();
    const cancelled = b.submit(request(1, 0), { signal: gone.signal });
    const kept = b.submit(request(1, 10));
    gone.abort();
    await assert.rejects(
      cancelled,
      (e: unknown) => e instanceof ServerError && e.code === ErrorCode.CANCELLED,
    );
    assert.equal(b.queued, 1);
    const last = b.submit(request(2, 20));
    const [a, c] = await Promise.all([kept, last]);
    assert.deepEqual(model.calls, [3]);
    assert.deepEqual(values(a.result.outputs[0]), [20, 22]);
    assert.deepEqual(values(c.result.outputs[0]), [40, 42, 44, 46]);
  });

  it('refuses a request with OVERLOADED at once when the queue is full', async () => {
    const model = doubling();
    const { b } = batcher(model.run, { maxBatchSize: 3, maxQueued: 2 });
    const leaving = new AbortController();
    const first = b.submit(request(1, 0), { signal: leaving.signal });
    const second = b.submit(request(1, 1));
    await assert.rejects(
      b.submit(request(1, 2)),
      (e: unknown) =>
        e instanceof ServerError &&
        e.code === ErrorCode.OVERLOADED &&
        e.message.includes("model 'm' has 2 requests waiting"),
    );
    // A member leaving makes room; a 2-row request fills the batch of 3 rows, which runs.
    leaving.abort();
    await assert.rejects(first, /cancelled/);
    const answers = await Promise.all([second, b.submit(request(2, 3))]);
    assert.deepEqual(model.calls, [3]);
    assert.deepEqual(values(answers[1].result.outputs[0]), [6, 8, 10, 12]);
    assert.equal(b.queued, 0);
  });

  it('settles a batched member only after the runtime call settled', async () => {
    const model = doubling();
    model.hold();
    const { b } = batcher(model.run, { maxBatchSize: 2 });
    let settled = 0;
    const both = [b.submit(request(1, 0)), b.submit(request(1, 1))].map((p) =>
      p.then(() => settled++),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(model.calls, [2]);
    assert.equal(settled, 0);
    model.release();
    await Promise.all(both);
    assert.equal(settled, 2);
  });
});
