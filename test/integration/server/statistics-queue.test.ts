// The statistics extension counts a wait for the model's worker thread as queue time, as Triton
// counts time in its scheduler queue, not as compute_infer. One thread (parallel_workers 1): a
// predict that holds it (the blocker fixture spins until its `release` file appears) and a second
// request queued behind it; the second waits at least as long as the test keeps the first
// running after seeing both in flight, and that wait shows in `queue`, not in `compute_infer`.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson, waitFor } from './lifecycle-helpers.js';

/** How long the test keeps the first predict running once the second is queued behind it. */
const HELD_MS = 200;

interface Duration {
  count: number;
  ns: number;
}

const folderInput = (folder: string) => ({
  inputs: [{ name: 'folder', datatype: 'BYTES', shape: [1], data: [folder] }],
});

describe('statistics: a wait for the worker thread is queue time', () => {
  let dir: string;
  let first: string;
  let second: string;
  let server: ServerProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-stats-queue-'));
    await cp(
      join(REPO_ROOT, 'test/fixtures/custom-runtimes/blocker'),
      join(dir, 'models', 'blocker'),
      {
        recursive: true,
      },
    );
    first = await mkdtemp(join(tmpdir(), 'tessera-stats-first-'));
    second = await mkdtemp(join(tmpdir(), 'tessera-stats-second-'));
    await writeFile(join(second, 'release'), ''); // the second predict returns as soon as it runs
    server = await startServer({ folder: join(dir, 'models'), timeoutMs: 60_000 });
  });

  after(async () => {
    await server.stop();
    for (const d of [dir, first, second]) await rm(d, { recursive: true, force: true });
  });

  it('counts the second request’s wait behind the first as queue, not compute_infer', async () => {
    const url = `${server.httpUrl}/v2/models/blocker/infer`;
    const holding = postJson(url, folderInput(first));
    await waitFor(() => existsSync(join(first, 'started')), 'the first predict running', 30_000);
    const queued = postJson(url, folderInput(second));
    // Both are in the core (the second waits for the thread the first holds).
    await waitFor(
      async () => {
        const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
        return /tessera_model_infer_in_flight\{model="blocker",version=""\} 2\b/.test(text);
      },
      'two requests in flight',
      30_000,
    );
    assert.equal(existsSync(join(second, 'started')), false, 'the second has not run yet');
    // A known minimum wait for the second (not a wait for an event to fail to happen).
    await sleep(HELD_MS);
    await writeFile(join(first, 'release'), '');
    for (const reply of [await holding, await queued]) assert.equal(reply.status, 200);

    const res = await fetch(`${server.httpUrl}/v2/models/blocker/stats`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      model_stats: { inference_stats: Record<string, Duration> }[];
    };
    const stats = body.model_stats[0]?.inference_stats;
    assert.ok(stats);
    assert.equal(stats['success']?.count, 2);
    assert.equal(stats['queue']?.count, 2);
    assert.ok(
      (stats['queue']?.ns ?? 0) >= HELD_MS * 1e6,
      `queue ${String(stats['queue']?.ns)} ns covers the second request's wait`,
    );
    // compute_infer is the model's own runs: together less than the requests' total time minus
    // that wait (before, the wait was counted here and queue read 0).
    assert.ok(
      (stats['compute_infer']?.ns ?? 0) + (stats['queue']?.ns ?? 0) <= (stats['success']?.ns ?? 0),
      JSON.stringify(stats),
    );
  });
});
