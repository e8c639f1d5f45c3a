import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { portIterator, serveIterator } from '../../../server/src/runtime/port-iterator.js';

/** A producer that records how far it got and whether its `finally` ran. */
function producer(fail?: Error) {
  const state = { pulled: 0, closed: false };
  async function* run(): AsyncGenerator<number> {
    try {
      for (let i = 1; ; i++) {
        state.pulled = i;
        if (fail !== undefined && i === 2) throw fail;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, iterator: run() };
}

function connect<T>(iterator: AsyncIterator<unknown>) {
  const { port1, port2 } = new MessageChannel();
  const task = serveIterator(iterator, port2);
  return { task, remote: portIterator<T>(port1, task) };
}

describe('portIterator and serveIterator', () => {
  it('pulls items one by one: the producer runs only as far as it was asked', async () => {
    const { state, iterator } = producer();
    const { remote, task } = connect<number>(iterator);
    assert.deepEqual(await remote.next(), { done: false, value: 1 });
    assert.deepEqual(await remote.next(), { done: false, value: 2 });
    assert.equal(state.pulled, 2);
    assert.deepEqual(await remote.return?.(), { done: true, value: undefined });
    assert.equal(state.closed, true, "return() ran the producer's finally");
    assert.deepEqual(await task, { done: true });
    assert.deepEqual(await remote.next(), { done: true, value: undefined });
  });

  it('ends when the producer ends', async () => {
    async function* two(): AsyncGenerator<string> {
      yield 'a';
      yield 'b';
    }
    const { remote } = connect<string>(two());
    const seen: string[] = [];
    for (;;) {
      const step = await remote.next();
      if (step.done === true) break;
      seen.push(step.value);
    }
    assert.deepEqual(seen, ['a', 'b']);
  });

  it("carries the producer's error, keeping a ServerError's code", async () => {
    const plain = connect<number>(producer(new Error('boom')).iterator).remote;
    await plain.next();
    await assert.rejects(plain.next(), { message: 'boom' });
    const coded = connect<number>(
      producer(new ServerError(ErrorCode.INVALID_INPUT, 'bad')).iterator,
    ).remote;
    await coded.next();
    await assert.rejects(coded.next(), (error: unknown) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.code, ErrorCode.INVALID_INPUT);
      return true;
    });
  });

  it('stops the producer when the main side closes its port without a return', async () => {
    const { state, iterator } = producer();
    const { port1, port2 } = new MessageChannel();
    const task = serveIterator(iterator, port2);
    const remote = portIterator<number>(port1, task);
    await remote.next();
    port1.close();
    await task;
    assert.equal(state.closed, true);
  });
});
