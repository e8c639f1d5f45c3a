import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExponentialRateLimiter,
  jitteredBackoffMs,
} from '../../../operator/src/controller/rate-limiter.js';

describe('ExponentialRateLimiter', () => {
  it("doubles from controller-runtime's 5 ms and caps at 1000 s", () => {
    const rl = new ExponentialRateLimiter();
    const delays = Array.from({ length: 5 }, () => rl.when('k'));
    assert.deepEqual(delays, [5, 10, 20, 40, 80]);
    for (let i = 0; i < 40; i++) rl.when('k');
    assert.equal(rl.when('k'), 1_000_000);
    assert.equal(rl.retries('k'), 46);
  });

  it('never overflows past the cap even after thousands of failures', () => {
    const rl = new ExponentialRateLimiter(5, 60_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = rl.when('k');
    assert.equal(last, 60_000);
  });

  it('tracks keys independently and forgets them', () => {
    const rl = new ExponentialRateLimiter(1, 100);
    rl.when('a');
    rl.when('a');
    assert.equal(rl.when('b'), 1);
    rl.forget('a');
    assert.equal(rl.when('a'), 1);
  });
});

describe('jitteredBackoffMs', () => {
  it('stays within [0, min(max, base * 2^attempt))', () => {
    assert.equal(
      jitteredBackoffMs(3, 100, 10_000, () => 0),
      0,
    );
    assert.equal(
      jitteredBackoffMs(3, 100, 10_000, () => 0.999999),
      799,
    );
    assert.equal(
      jitteredBackoffMs(20, 100, 10_000, () => 0.5),
      5000,
    );
    assert.equal(
      jitteredBackoffMs(5000, 100, 10_000, () => 0.5),
      5000,
    );
  });
});
