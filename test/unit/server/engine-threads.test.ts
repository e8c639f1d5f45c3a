// The one pool of engine threads the built-in runtimes share (runtime/engine-threads.ts): an ONNX,
// a LightGBM and a custom model borrow threads from the same pool, and a thread one runtime gave
// back is what the next load of another runtime gets. The engine worker runs several tasks per
// thread, so it must itself close an engine only after the runs sent before the close. Structural
// assertions only: thread and engine counts, and what a run saw.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelRuntime } from '../../../server/src/core/model-runtime.js';
import { withDefaults, type ModelSettings } from '../../../server/src/core/model-settings.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { builtinRuntimes } from '../../../server/src/runtime/builtin-runtimes.js';
import { EngineThreads } from '../../../server/src/runtime/engine-threads.js';
import { REPO_ROOT } from '../../support/server-process.js';

// A single-leaf regression tree over four features: the smallest model the LightGBM reader takes.
const LIGHTGBM_MODEL = [
  'tree',
  'version=v4',
  'num_class=1',
  'num_tree_per_iteration=1',
  'max_feature_idx=3',
  'objective=regression',
  '',
  'Tree=0',
  'num_leaves=1',
  'leaf_value=0.5',
  '',
  'end of trees',
  '',
].join('\n');

/** An engine module given as source lines, loaded by URL as the engine threads load one. */
function engineModule(lines: readonly string[]): string {
  return `data:text/javascript,${encodeURIComponent(lines.join('\n'))}`;
}

function settings(
  name: string,
  implementation: string,
  folder: string,
  uri = folder,
): ModelSettings {
  return withDefaults({ name, implementation, uri, folder, source: `${name}/model-settings.json` });
}

function runtime(runtimes: readonly ModelRuntime[], name: string): ModelRuntime {
  const found = runtimes.find((r) => r.name === name);
  assert.ok(found, `no built-in runtime '${name}'`);
  return found;
}

void describe('the shared engine threads', () => {
  let dir: string;
  const pools: EngineThreads[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-threads-'));
    await writeFile(join(dir, 'model.txt'), LIGHTGBM_MODEL);
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  });

  void it('lends ONNX, tree and custom models threads from one pool, reused across runtimes', async () => {
    const { runtimes, threads } = builtinRuntimes({ parallelWorkers: 1, maxWorkerThreads: 4 });
    pools.push(threads);
    const iris = join(REPO_ROOT, 'examples', 'models', 'iris');
    const ticker = join(REPO_ROOT, 'test', 'fixtures', 'custom-runtimes', 'ticker');
    const onnx = await runtime(runtimes, 'onnx').load(settings('iris', 'onnx', iris));
    const trees = await runtime(runtimes, 'lightgbm').load(settings('lgb', 'lightgbm', dir));
    assert.deepEqual(await threads.stats(), {
      started: 2,
      idle: 0,
      leased: 2,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });

    // The thread the ONNX model gave back is the one the custom model gets: no thread starts.
    await onnx.unload();
    assert.deepEqual(await threads.stats(), {
      started: 2,
      idle: 1,
      leased: 1,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });
    const custom = await runtime(runtimes, 'custom').load(
      settings('ticker', './ticker.mjs', ticker),
    );
    assert.deepEqual(await threads.stats(), {
      started: 2,
      idle: 0,
      leased: 2,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });

    // Both still answer on the shared threads.
    const rows = await trees.infer(
      {
        id: 'r',
        parameters: {},
        inputs: [{ name: 'input-0', datatype: 'FP32', shape: [1, 4], data: new Float32Array(4) }],
      },
      {},
    );
    assert.deepEqual([...(rows.outputs[0]?.data as Float32Array)], [0.5]);
    await Promise.all([trees.unload(), custom.unload()]);
    assert.deepEqual(await threads.stats(), {
      started: 2,
      idle: 2,
      leased: 0,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });
  });

  void it('starts no thread for parallel_workers 0', async () => {
    const { runtimes, threads } = builtinRuntimes({ parallelWorkers: 0 });
    pools.push(threads);
    const instance = await runtime(runtimes, 'lightgbm').load(settings('lgb', 'lightgbm', dir));
    await instance.unload();
    assert.deepEqual(await threads.stats(), {
      started: 0,
      idle: 0,
      leased: 0,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });
  });

  void it('ends a stream still open when its model unloads', async () => {
    const { runtimes, threads } = builtinRuntimes({ parallelWorkers: 1, maxWorkerThreads: 4 });
    pools.push(threads);
    const ticker = join(REPO_ROOT, 'test', 'fixtures', 'custom-runtimes', 'ticker');
    const custom = await runtime(runtimes, 'custom').load(
      settings('ticker', './ticker.mjs', ticker),
    );
    // The ticker's stream never ends on its own: only the unload can end it.
    const stream = custom.inferStream?.({ id: 's', parameters: {}, inputs: [] }, {});
    assert.ok(stream, 'the ticker streams');
    assert.equal((await stream.next()).done, false);
    await custom.unload();
    assert.equal((await stream.next()).done, true);
    assert.deepEqual(await threads.stats(), {
      started: 1,
      idle: 1,
      leased: 0,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });
  });

  void it('closes an engine only after the runs sent before the close, then refuses runs', async () => {
    const threads = new EngineThreads({ parallelWorkers: 1, maxThreads: 4 });
    pools.push(threads);
    // A run that awaits, so the close arrives while it is in flight on the same thread; it
    // answers whether its engine had been closed by the time it finished.
    const url = engineModule([
      'export function open() {',
      '  let closed = false;',
      '  return {',
      '    metadata: {},',
      '    async run() { await new Promise((r) => setTimeout(r, 20)); return { closed }; },',
      '    close() { closed = true; },',
      '  };',
      '}',
    ]);
    const engine = await threads.open(url, {}, 1);
    const runs = [engine.run({}), engine.run({})];
    const closing = engine.close();
    assert.deepEqual(await Promise.all(runs), [{ closed: false }, { closed: false }]);
    await closing;
    await assert.rejects(
      engine.run({}),
      (error: unknown) => error instanceof ServerError && error.code === ErrorCode.MODEL_NOT_READY,
    );
    assert.deepEqual(await threads.stats(), {
      started: 1,
      idle: 1,
      leased: 0,
      shared: 0,
      replaced: 0,
      idleEngines: 0,
    });
  });
  void it('reopens every engine a shared thread hosted when its worker dies', async () => {
    const threads = new EngineThreads({ parallelWorkers: 1, maxThreads: 1 });
    pools.push(threads);
    // An engine that answers its own name, or ends its thread when asked to.
    const url = engineModule([
      'export function open(args) {',
      '  return {',
      '    metadata: {},',
      '    run(request) { if (request.exit) process.exit(3); return { name: args.name }; },',
      '  };',
      '}',
    ]);
    const first = await threads.open(url, { name: 'first' }, 1);
    const second = await threads.open(url, { name: 'second' }, 1);
    assert.deepEqual(
      [(await threads.stats()).started, (await threads.stats()).shared],
      [1, 1],
      'both engines on one thread',
    );
    await assert.rejects(first.run({ exit: true }), /worker thread running the model stopped/);
    // The replacement reopened both engines before running anything else.
    assert.deepEqual(await second.run({}), { name: 'second' });
    assert.deepEqual(await first.run({}), { name: 'first' });
    assert.equal((await threads.stats()).replaced, 1);
    await Promise.all([first.close(), second.close()]);
    assert.equal((await threads.stats()).idleEngines, 0);
  });
  void it('never shares the threads of an exclusive lease, whatever max_worker_threads says', async () => {
    const threads = new EngineThreads({ parallelWorkers: 1, maxThreads: 1 });
    pools.push(threads);
    const url = engineModule([
      'export function open() { return { metadata: {}, run() { return {}; } }; }',
    ]);
    const own = await threads.open(url, {}, 1, { exclusive: true });
    const first = await threads.open(url, {}, 1);
    const second = await threads.open(url, {}, 1);
    const stats = await threads.stats();
    // One thread for the exclusive engine, one the other two share.
    assert.deepEqual([stats.started, stats.leased, stats.shared], [2, 2, 1]);
    await Promise.all([own.close(), first.close(), second.close()]);
    assert.equal((await threads.stats()).leased, 0);
  });
  void it('fails only the requests on a thread that dies under load, and serves all later ones', async () => {
    const threads = new EngineThreads({ parallelWorkers: 2, maxThreads: 2 });
    pools.push(threads);
    // Each run awaits a turn, so many are in flight on both threads when one thread exits.
    const url = engineModule([
      'export function open() {',
      '  return {',
      '    metadata: {},',
      '    async run(request) {',
      '      await new Promise((r) => setImmediate(r));',
      '      if (request.exit) process.exit(3);',
      '      return { n: request.n };',
      '    },',
      '  };',
      '}',
    ]);
    const engine = await threads.open(url, {}, 2);
    const load = Array.from({ length: 40 }, (_, n) => engine.run({ n }));
    const exit = engine.run({ exit: true });
    const outcomes = await Promise.allSettled([...load, exit]);
    const death = /the worker thread running the model stopped during this request/;
    for (const [n, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') assert.deepEqual(outcome.value, { n });
      else assert.match((outcome.reason as Error).message, death, `request ${n}`);
    }
    assert.equal(outcomes.at(-1)?.status, 'rejected', 'the request that ended its thread fails');
    assert.ok(
      outcomes.some((o) => o.status === 'fulfilled'),
      'the other thread kept answering',
    );
    // The replacement reopened the engine: every later request is answered.
    const later = await Promise.all(Array.from({ length: 20 }, (_, n) => engine.run({ n })));
    assert.deepEqual(
      later,
      Array.from({ length: 20 }, (_, n) => ({ n })),
    );
    assert.equal((await threads.stats()).replaced, 1);
    await engine.close();
  });
});
