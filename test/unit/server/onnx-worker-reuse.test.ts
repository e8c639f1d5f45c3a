// Lifetime of the ONNX runtime's worker threads and sessions under model churn (bench/RESULTS.md,
// "Model churn"): loads borrow long-lived threads, unloads release the session in the thread that
// owns it and give the thread back. Structural assertions only: counts of threads and sessions.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withDefaults, type ModelSettings } from '../../../server/src/core/model-settings.js';
import type { DecodedRequest } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { EngineThreads } from '../../../server/src/runtime/engine-threads.js';
import { createOnnxRuntime, type OnnxRuntime } from '../../../server/src/runtime/onnx-runtime.js';
import { REPO_ROOT } from '../../support/server-process.js';

const IRIS = join(REPO_ROOT, 'examples', 'models', 'iris', 'model.onnx');

function settings(overrides: Partial<ModelSettings> = {}): ModelSettings {
  return withDefaults({
    name: 'iris',
    implementation: 'onnx',
    uri: IRIS,
    folder: join(REPO_ROOT, 'examples', 'models', 'iris'),
    source: 'iris/model-settings.json',
    ...overrides,
  });
}

const ROW: DecodedRequest = {
  id: 'r1',
  parameters: {},
  inputs: [
    {
      name: 'input',
      datatype: 'FP32',
      shape: [1, 4],
      data: new Float32Array([5.1, 3.5, 1.4, 0.2]),
    },
  ],
};

/** Every thread started is idle again and holds no session. */
async function assertAllGivenBack(threads: EngineThreads, started: number): Promise<void> {
  assert.deepEqual(await threads.stats(), {
    started,
    idle: started,
    leased: 0,
    shared: 0,
    replaced: 0,
    idleEngines: 0,
  });
}

void describe('ONNX runtime worker threads under model churn', () => {
  const pools: EngineThreads[] = [];
  /** An ONNX runtime on engine threads of its own, so each test counts only its threads. */
  const runtime = (
    parallelWorkers: number,
    maxThreads = 4,
  ): { onnx: OnnxRuntime; threads: EngineThreads } => {
    const threads = new EngineThreads({ parallelWorkers, maxThreads });
    pools.push(threads);
    return { onnx: createOnnxRuntime({ parallelWorkers, threads }), threads };
  };

  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  void it('reuses the same threads over load/unload cycles and releases every session', async () => {
    const { onnx, threads } = runtime(2);
    for (let cycle = 0; cycle < 20; cycle++) {
      const instance = await onnx.load(settings());
      await instance.infer(ROW, {});
      await instance.unload();
    }
    await assertAllGivenBack(threads, 2);
  });

  void it('keeps a thread lent while its instance is loaded', async () => {
    const { onnx, threads } = runtime(1);
    const first = await onnx.load(settings());
    const second = await onnx.load(settings());
    assert.equal((await threads.stats()).leased, 2);
    await Promise.all([first.unload(), second.unload()]);
    await assertAllGivenBack(threads, 2);
  });

  void it('shares threads between instances once max_worker_threads are started', async () => {
    const { onnx, threads } = runtime(1, 1);
    const instances = [
      await onnx.load(settings()),
      await onnx.load(settings()),
      await onnx.load(settings()),
    ];
    const stats = await threads.stats();
    assert.deepEqual([stats.started, stats.leased, stats.shared], [1, 1, 1]);
    const label = async (i: (typeof instances)[number]): Promise<unknown[]> => [
      ...((await i.infer(ROW, { outputNames: ['label'] })).outputs[0]?.data as Iterable<unknown>),
    ];
    const labels = await Promise.all(instances.map(label));
    assert.equal(labels.length, 3);
    for (const l of labels) assert.deepEqual(l, labels[0]);
    // One instance unloading closes its own session only: the others keep answering.
    await instances[0]?.unload();
    const second = instances[1];
    assert.ok(second);
    assert.deepEqual(await label(second), labels[0]);
    await Promise.all(instances.slice(1).map((i) => i.unload()));
    await assertAllGivenBack(threads, 1);
  });

  void it('gives a model with more parallel_workers than max_worker_threads its own threads', async () => {
    const { onnx, threads } = runtime(1, 1);
    const narrow = await onnx.load(settings());
    const wide = await onnx.load(settings({ parallelWorkers: 3 }));
    const stats = await threads.stats();
    // Three distinct threads for the wide one, one of them the narrow one's.
    assert.deepEqual([stats.started, stats.leased, stats.shared], [3, 3, 1]);
    await Promise.all([narrow.unload(), wide.unload()]);
    assert.equal((await threads.stats()).leased, 0);
  });

  void it('answers an inference sent before the unload, then refuses new ones', async () => {
    const { onnx, threads } = runtime(1);
    const instance = await onnx.load(settings());
    const running = instance.infer(ROW, { outputNames: ['label'] });
    const unloading = instance.unload();
    const result = await running;
    await unloading;
    assert.deepEqual(
      result.outputs.map((o) => o.name),
      ['label'],
    );
    await assert.rejects(
      instance.infer(ROW, {}),
      (error: unknown) => error instanceof ServerError && error.code === ErrorCode.MODEL_NOT_READY,
    );
    assert.equal((await threads.stats()).idleEngines, 0);
  });

  void it('gives the threads back when a load fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-onnx-'));
    try {
      // Truncated: it looks like an ONNX file, so the load reaches the worker threads and fails
      // there (a file that does not look like ONNX is refused before any thread is lent).
      const garbage = join(dir, 'model.onnx');
      const whole = await readFile(IRIS);
      await writeFile(garbage, whole.subarray(0, Math.floor(whole.length * 0.6)));
      const { onnx, threads } = runtime(2);
      await assert.rejects(
        onnx.load(settings({ uri: garbage })),
        (error: unknown) =>
          error instanceof ServerError && error.code === ErrorCode.MODEL_LOAD_FAILED,
      );
      await assertAllGivenBack(threads, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('stops threads given back beyond the idle limit', async () => {
    const { onnx, threads } = runtime(1);
    const wide = availableParallelism() + 1;
    const instance = await onnx.load(settings({ parallelWorkers: wide }));
    await instance.unload();
    const stats = await threads.stats();
    assert.equal(stats.started, wide);
    assert.equal(stats.idle, wide - 1);
    assert.equal(stats.leased, 0);
  });
});
