// The committed example and fixture models: each loads in onnxruntime-node (the server's runtime)
// with the declared names/types, computes what it should, agrees with Python onnxruntime, and is
// what scripts/make-models.py regenerates on this machine: byte for byte for the hand-built graphs;
// for the trained iris model the same graph with every parameter within one float32 ulp, since the
// script trains to the loss's unique optimum (see fit_to_the_optimum there).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { onnxReference, pythonPath } from '../../support/python-peer.js';

interface Expected {
  path: string;
  settingsName: string;
  inputs: [string, string][];
  outputs: [string, string][];
}

const models: Expected[] = [
  {
    path: 'examples/models/iris',
    settingsName: 'iris',
    inputs: [['input', 'float32']],
    outputs: [
      ['label', 'int64'],
      ['probabilities', 'float32'],
    ],
  },
  {
    path: 'examples/models/simple',
    settingsName: 'simple',
    inputs: [
      ['INPUT0', 'int32'],
      ['INPUT1', 'int32'],
    ],
    outputs: [
      ['OUTPUT0', 'int32'],
      ['OUTPUT1', 'int32'],
    ],
  },
  {
    path: 'test/fixtures/models/strings',
    settingsName: 'strings',
    inputs: [['input', 'string']],
    outputs: [['output', 'string']],
  },
  {
    path: 'test/fixtures/models/fp64-scale',
    settingsName: 'fp64-scale',
    inputs: [['x', 'float64']],
    outputs: [['y', 'float64']],
  },
  {
    path: 'test/fixtures/models/versioned/1',
    settingsName: 'versioned',
    inputs: [['x', 'float32']],
    outputs: [['y', 'float32']],
  },
  {
    path: 'test/fixtures/models/versioned/2',
    settingsName: 'versioned',
    inputs: [['x', 'float32']],
    outputs: [['y', 'float32']],
  },
];

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): [string, string][] {
  return list.map((m) => [m.name, m.isTensor ? m.type : 'non-tensor']);
}

void describe('example and fixture models', () => {
  for (const model of models) {
    void it(`${model.path} loads in onnxruntime-node with the declared signature`, async () => {
      const settings = JSON.parse(readFileSync(`${model.path}/model-settings.json`, 'utf8')) as {
        name: string;
        implementation: string;
        parameters: { uri: string };
      };
      assert.equal(settings.name, model.settingsName);
      assert.equal(settings.implementation, 'onnx');
      assert.equal(settings.parameters.uri, './model.onnx');
      const session = await ort.InferenceSession.create(`${model.path}/model.onnx`);
      try {
        assert.deepEqual(meta(session.inputMetadata), model.inputs);
        assert.deepEqual(meta(session.outputMetadata), model.outputs);
      } finally {
        await session.release();
      }
    });
  }

  void it('simple adds and subtracts; versioned adds its version; fp64-scale doubles; strings echoes', async () => {
    const simple = await ort.InferenceSession.create('examples/models/simple/model.onnx');
    const a = Int32Array.from({ length: 32 }, (_, i) => i * 7 - 100);
    const b = Int32Array.from({ length: 32 }, (_, i) => 3 - i);
    const out = await simple.run({
      INPUT0: new ort.Tensor('int32', a, [2, 16]),
      INPUT1: new ort.Tensor('int32', b, [2, 16]),
    });
    assert.deepEqual(
      Array.from(out['OUTPUT0']!.data as Int32Array),
      Array.from(a, (x, i) => x + b[i]!),
    );
    assert.deepEqual(
      Array.from(out['OUTPUT1']!.data as Int32Array),
      Array.from(a, (x, i) => x - b[i]!),
    );
    assert.deepEqual(out['OUTPUT0']!.dims, [2, 16]);
    await simple.release();

    for (const version of [1, 2]) {
      const s = await ort.InferenceSession.create(
        `test/fixtures/models/versioned/${version}/model.onnx`,
      );
      const y = await s.run({ x: new ort.Tensor('float32', Float32Array.from([0.5, -1]), [1, 2]) });
      assert.deepEqual(Array.from(y['y']!.data as Float32Array), [0.5 + version, -1 + version]);
      await s.release();
    }

    const fp64 = await ort.InferenceSession.create('test/fixtures/models/fp64-scale/model.onnx');
    const y = await fp64.run({
      x: new ort.Tensor('float64', Float64Array.from([1, 0.1, -3.25]), [1, 3]),
    });
    assert.deepEqual(Array.from(y['y']!.data as Float64Array), [2, 0.2, -6.5]);
    await fp64.release();

    const strings = await ort.InferenceSession.create('test/fixtures/models/strings/model.onnx');
    const echoed = await strings.run({ input: new ort.Tensor('string', ['a', 'héllo', ''], [3]) });
    assert.deepEqual(echoed['output']!.data, ['a', 'héllo', '']);
    await strings.release();
  });

  void it('broken does not load', async () => {
    await assert.rejects(ort.InferenceSession.create('test/fixtures/models/broken/model.onnx'));
  });

  // A missing peer fails the test instead of skipping it: no tier is skipped in CI.
  assert.ok(
    process.env['TESSERA_PYTHON'],
    'TESSERA_PYTHON is not set: run through scripts/run-tests.mjs, which provisions it',
  );

  void it('iris in onnxruntime-node agrees with Python onnxruntime', async () => {
    const rows = [5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4, 6.3, 3.3, 6.0, 2.5];
    const session = await ort.InferenceSession.create('examples/models/iris/model.onnx');
    const out = await session.run({
      input: new ort.Tensor('float32', Float32Array.from(rows), [3, 4]),
    });
    await session.release();
    const ref = await onnxReference('examples/models/iris/model.onnx', {
      input: { data: rows, shape: [3, 4], datatype: 'FP32' },
    });
    const [label, proba] = ref.outputs;
    assert.deepEqual(Array.from(out['label']!.data as BigInt64Array, Number), label!.data);
    assert.deepEqual(label!.data, [0, 1, 2]);
    const got = Array.from(out['probabilities']!.data as Float32Array);
    proba!.data.forEach((p, i) => {
      assert.ok(
        Math.abs(got[i]! - (p as number)) <= 1e-6,
        `probability ${i}: ${got[i]!} vs ${String(p)}`,
      );
    });
  });

  void it(
    'the committed models are what scripts/make-models.py regenerates',
    { timeout: 120_000 },
    () => {
      const result = spawnSync(pythonPath(), ['scripts/make-models.py', '--check'], {
        encoding: 'utf8',
        timeout: 110_000,
      });
      assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    },
  );
});
