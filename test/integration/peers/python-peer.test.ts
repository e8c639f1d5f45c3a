// Self-tests of the Python peer: the tritonclient conformance script passes every check against
// the fake onnxruntime-backed V2 server, and the onnxruntime reference oracle answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  onnxReference,
  runTritonConformance,
  startFakeV2Server,
  type FakeV2Server,
} from '../../support/python-peer.js';

// A missing peer fails the test instead of skipping it: no tier is skipped in CI.
assert.ok(
  process.env['TESSERA_PYTHON'],
  'TESSERA_PYTHON is not set: run through scripts/run-tests.mjs, which provisions it',
);

void describe('python peer', { timeout: 240_000 }, () => {
  let server: FakeV2Server | undefined;
  before(async () => {
    server = await startFakeV2Server('examples/models');
  });
  after(async () => {
    await server?.stop();
  });

  void it('triton_conformance.py passes every check against the fake V2 server', async () => {
    const checks = await runTritonConformance({ http: server!.http, grpc: server!.grpc });
    assert.ok(checks.length >= 38, `got ${checks.length} checks`);
    for (const name of [
      'http.infer.simple.binary',
      'http.infer.simple.json',
      'grpc.infer.iris',
      'grpc.unknown_model.metadata',
    ]) {
      assert.ok(
        checks.some((c) => c.name === name),
        `check ${name} present`,
      );
    }
    const failed = checks.filter((c) => !c.ok);
    assert.deepEqual(failed, []);
  });

  void it('triton_conformance.py reports failures as checks when the server is down', async () => {
    const checks = await runTritonConformance({
      http: '127.0.0.1:1',
      grpc: '127.0.0.1:1',
      callTimeoutS: 2,
    });
    const live = checks.find((c) => c.name === 'http.server_live');
    assert.equal(live?.ok, false);
    assert.equal(checks.find((c) => c.name === 'grpc.server_live')?.ok, false);
  });

  void it('onnx_reference.py runs simple and the strings fixture', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, () => 2);
    const simple = await onnxReference('examples/models/simple/model.onnx', {
      INPUT0: { data: a, shape: [1, 16], datatype: 'INT32' },
      INPUT1: { data: b, shape: [1, 16] },
    });
    assert.deepEqual(
      simple.outputs.map((o) => [o.name, o.datatype, o.shape]),
      [
        ['OUTPUT0', 'INT32', [1, 16]],
        ['OUTPUT1', 'INT32', [1, 16]],
      ],
    );
    assert.deepEqual(
      simple.outputs[0]!.data,
      a.map((x) => x + 2),
    );
    assert.deepEqual(
      simple.outputs[1]!.data,
      a.map((x) => x - 2),
    );
    assert.deepEqual(simple.inputs[0], { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] });

    const strings = await onnxReference('test/fixtures/models/strings/model.onnx', {
      input: { data: ['a', 'héllo'] },
    });
    assert.deepEqual(strings.outputs[0], {
      name: 'output',
      datatype: 'BYTES',
      dtype: 'object',
      shape: [2],
      data: ['a', 'héllo'],
    });

    await assert.rejects(
      onnxReference('test/fixtures/models/broken/model.onnx', { x: { data: [1] } }),
      /onnx_reference\.py: /,
    );
  });
});
