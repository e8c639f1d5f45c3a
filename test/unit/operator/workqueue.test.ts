import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Timers } from '../../../operator/src/controller/workqueue.js';
import { ExponentialRateLimiter } from '../../../operator/src/controller/rate-limiter.js';

/** A manual clock: timers fire only when `advance` passes their deadline. */
function manualClock(): Timers & { now(): number; advance(ms: number): void; pending(): number } {
  let now = 0;
  let next = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => {
      timers.delete(id as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'ns/a');
    assert.equal(await q.get(), 'ns/b');
    assert.equal(q.length, 0);
  });

  it('never hands a key to a second worker while it is processed, and requeues it after done', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    const first = await q.get();
    assert.equal(first, 'ns/a');
    q.add('ns/a'); // an event arrives while a worker holds the key
    assert.equal(q.length, 0, 'the key must not be available to another worker');
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined);
    q.done('ns/a');
    await new Promise((r) => setImmediate(r));
    assert.equal(second, 'ns/a');
    assert.equal(q.isProcessing('ns/a'), true);
  });

  it('runs at most one reconcile per key with many concurrent workers', async () => {
    const q = new WorkQueue();
    const active = new Set<string>();
    let overlaps = 0;
    let processed = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (active.has(key)) overlaps++;
        active.add(key);
        await new Promise((r) => setTimeout(r, 1));
        if (processed++ < 200) q.add(key); // re-add during processing
        active.delete(key);
        q.done(key);
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    for (let i = 0; i < 50; i++) q.add(`ns/k${i % 5}`);
    await new Promise((r) => setTimeout(r, 300));
    q.shutdown();
    await Promise.all(workers);
    assert.equal(overlaps, 0);
    assert.ok(processed > 5);
  });

  it('delays rate-limited keys with per-key exponential backoff and forget resets it', () => {
    const clock = manualClock();
    const q = new WorkQueue(new ExponentialRateLimiter(10, 1000), clock);
    assert.equal(q.addRateLimited('ns/a'), 10);
    assert.equal(q.length, 0);
    clock.advance(9);
    assert.equal(q.length, 0);
    clock.advance(1);
    assert.equal(q.length, 1);
    assert.equal(q.addRateLimited('ns/a'), 20);
    assert.equal(q.addRateLimited('ns/b'), 10, 'backoff is per key');
    q.forget('ns/a');
    assert.equal(q.limiter.retries('ns/a'), 0);
    assert.equal(q.addRateLimited('ns/a'), 10);
  });

  it('keeps the earliest of two delayed adds of one key', () => {
    const clock = manualClock();
    const q = new WorkQueue(undefined, clock);
    q.addAfter('ns/a', 100);
    q.addAfter('ns/a', 50);
    q.addAfter('ns/a', 500);
    assert.equal(clock.pending(), 1);
    clock.advance(50);
    assert.equal(q.length, 1);
  });

  it('resolves waiting workers with undefined on shutdown and drops delayed keys', async () => {
    const clock = manualClock();
    const q = new WorkQueue(undefined, clock);
    const waiting = q.get();
    q.addAfter('ns/a', 10);
    q.shutdown();
    assert.equal(await waiting, undefined);
    assert.equal(clock.pending(), 0);
    q.add('ns/b');
    assert.equal(await q.get(), undefined);
  });
});
