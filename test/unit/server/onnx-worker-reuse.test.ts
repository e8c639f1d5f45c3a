// Lifetime of the ONNX runtime's worker threads and sessions under model churn (bench/RESULTS.md,
// "Model churn"): loads borrow long-lived threads, unloads release the session in the thread that
// owns it and give the thread back. Structural assertions only: counts of threads and sessions.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ModelSettings } from '../../../server/src/core/model-settings.js';
import type { DecodedRequest } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { createOnnxRuntime, type OnnxRuntime } from '../../../server/src/runtime/onnx-runtime.js';
import { REPO_ROOT } from '../../support/server-process.js';

const IRIS = join(REPO_ROOT, 'examples', 'models', 'iris', 'model.onnx');

function settings(overrides: Partial<ModelSettings> = {}): ModelSettings {
  return {
    name: 'iris',
    implementation: 'onnx',
    platform: '',
    inputs: [],
    outputs: [],
    maxBatchSize: 0,
    maxBatchTimeSeconds: 0,
    cacheEnabled: false,
    uri: IRIS,
    folder: join(REPO_ROOT, 'examples', 'models', 'iris'),
    source: 'iris/model-settings.json',
    extra: {},
    parameters: {},
    ...overrides,
  };
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
async function assertAllGivenBack(onnx: OnnxRuntime, started: number): Promise<void> {
  assert.deepEqual(await onnx.workerStats(), {
    started,
    idle: started,
    leased: 0,
    idleSessions: 0,
  });
}

void describe('ONNX runtime worker threads under model churn', () => {
  const runtimes: OnnxRuntime[] = [];
  const runtime = (parallelWorkers: number): OnnxRuntime => {
    const created = createOnnxRuntime({ parallelWorkers });
    runtimes.push(created);
    return created;
  };

  after(async () => {
    await Promise.all(runtimes.map((r) => r.close?.() ?? Promise.resolve()));
  });

  void it('reuses the same threads over load/unload cycles and releases every session', async () => {
    const onnx = runtime(2);
    for (let cycle = 0; cycle < 20; cycle++) {
      const instance = await onnx.load(settings());
      await instance.infer(ROW, {});
      await instance.unload();
    }
    await assertAllGivenBack(onnx, 2);
  });

  void it('keeps a thread lent while its instance is loaded', async () => {
    const onnx = runtime(1);
    const first = await onnx.load(settings());
    const second = await onnx.load(settings());
    assert.equal((await onnx.workerStats()).leased, 2);
    await Promise.all([first.unload(), second.unload()]);
    await assertAllGivenBack(onnx, 2);
  });

  void it('answers an inference sent before the unload, then refuses new ones', async () => {
    const onnx = runtime(1);
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
    assert.equal((await onnx.workerStats()).idleSessions, 0);
  });

  void it('gives the threads back when a load fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-onnx-'));
    try {
      // Truncated: it looks like an ONNX file, so the load reaches the worker threads and fails
      // there (a file that does not look like ONNX is refused before any thread is lent).
      const garbage = join(dir, 'model.onnx');
      const whole = await readFile(IRIS);
      await writeFile(garbage, whole.subarray(0, Math.floor(whole.length * 0.6)));
      const onnx = runtime(2);
      await assert.rejects(
        onnx.load(settings({ uri: garbage })),
        (error: unknown) =>
          error instanceof ServerError && error.code === ErrorCode.MODEL_LOAD_FAILED,
      );
      await assertAllGivenBack(onnx, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('stops threads given back beyond the idle limit', async () => {
    const onnx = runtime(1);
    const wide = availableParallelism() + 1;
    const instance = await onnx.load(settings({ parallelWorkers: wide }));
    await instance.unload();
    const stats = await onnx.workerStats();
    assert.equal(stats.started, wide);
    assert.equal(stats.idle, wide - 1);
    assert.equal(stats.leased, 0);
  });
});
