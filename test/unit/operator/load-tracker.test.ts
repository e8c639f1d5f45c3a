import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoadTracker } from '../../../operator/src/reconcilers/model-driver/load-tracker.js';

function settle(): { promise: Promise<void>; done: () => void } {
  let done = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
  });
  return { promise, done };
}

describe('LoadTracker', () => {
  it('runs one call per replica and model, and forgets it when it settles', async () => {
    const tracker = new LoadTracker({ baseMs: 100, maxMs: 1_000 }, () => 0);
    let calls = 0;
    const settled = settle();
    let release = (): void => undefined;
    const call = () => {
      calls++;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    tracker.start('pod', 'iris', 's3://a', call, settled.done);
    tracker.start('pod', 'iris', 's3://a', call, settled.done);
    assert.equal(calls, 1);
    assert.equal(tracker.inFlight('pod', 'iris'), 's3://a');
    release();
    await settled.promise;
    assert.equal(tracker.inFlight('pod', 'iris'), undefined);
  });

  it('backs off exponentially per storage URI, capped, and resets on success', async () => {
    let now = 0;
    const tracker = new LoadTracker({ baseMs: 100, maxMs: 250 }, () => now);
    for (const expected of [100, 200, 250]) {
      const settled = settle();
      tracker.start(
        'pod',
        'iris',
        's3://a',
        () => Promise.reject(new Error('denied')),
        settled.done,
      );
      await settled.promise;
      const failure = tracker.failure('pod', 'iris', 's3://a');
      assert.equal(failure?.retryAt, now + expected);
      assert.equal(failure.message, 'denied');
    }
    assert.equal(tracker.failure('pod', 'iris', 's3://other'), undefined);
    now = 10;
    tracker.noteSuccess('pod', 'iris');
    assert.equal(tracker.failure('pod', 'iris', 's3://a'), undefined);
  });

  it('aborts the calls of pods that are gone, without recording a failure', async () => {
    const tracker = new LoadTracker({ baseMs: 100, maxMs: 1_000 }, () => 0);
    const settled = settle();
    tracker.start(
      'gone',
      'iris',
      's3://a',
      (signal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            reject(new Error('aborted'));
          });
        }),
      settled.done,
    );
    tracker.retainPods(new Set(['other']));
    await settled.promise;
    assert.equal(tracker.failure('gone', 'iris', 's3://a'), undefined);
  });
});
