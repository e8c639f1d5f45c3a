// Pure pieces of the tree runtimes: file-kind detection from a file's head, and the request
// checks they rely on (any name for a single input, explained unavailable outputs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceMetadata } from '../../../server/src/core/model-runtime.js';
import { decodeRequest } from '../../../server/src/core/codecs/decode-request.js';
import { requestedOutputNames } from '../../../server/src/core/request-validation.js';
import { modelFileType } from '../../../server/src/runtime/model-file-type.js';
import { ForestBuilder, forestBytes } from '../../../server/src/runtime/trees/forest.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );

void describe('modelFileType', () => {
  const cases: [string, Uint8Array, string][] = [
    ['XGBoost JSON', bytes('{"learner":{"attributes":{}'), 'xgboost-json'],
    ['XGBoost UBJSON', bytes('{L', [0, 0, 0, 0, 0, 0, 0, 7], 'learner{'), 'xgboost-ubj'],
    ['LightGBM text', bytes('tree\nversion=v4\nnum_class=1\n'), 'lightgbm-text'],
    ['a pickle', bytes([0x80, 0x04, 0x95, 0x03]), 'pickle'],
    ['a zlib-compressed joblib', bytes([0x78, 0x9c, 0x01]), 'pickle'],
    ['ONNX', bytes([0x08, 0x07, 0x12, 0x04]), 'onnx'],
    ['an empty file', bytes(), 'empty'],
    ['other JSON', bytes('{"name": "x", "values": [1, 2, 3]}'), 'unknown'],
  ];
  for (const [what, head, kind] of cases) {
    void it(`names ${what}`, () => {
      assert.equal(modelFileType(head), kind);
    });
  }
});

void describe('request checks for single-input models', () => {
  const metadata: InstanceMetadata = {
    platform: 'xgboost',
    inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 2] }],
    outputs: [{ name: 'predict', datatype: 'FP32', shape: [-1, 1] }],
    mlserverInputs: true,
    unavailableOutputs: { predict_proba: 'only classifiers have predict_proba' },
  };
  const input = (name: string, shape: number[]) => ({
    name,
    datatype: 'FP32',
    shape,
    data: { kind: 'json' as const, value: [1, 2] },
  });

  const decodeInputs = (request: Parameters<typeof decodeRequest>[0], meta: InstanceMetadata) =>
    decodeRequest(request, meta, { inputs: [] });

  void it('accepts the single input under any name and still checks its shape', () => {
    const [tensor] = decodeInputs({ inputs: [input('predict', [1, 2])] }, metadata);
    // The runtime gets the tensor under the model's own input name.
    assert.equal(tensor?.name, 'input-0');
    assert.throws(
      () => decodeInputs({ inputs: [input('predict', [2, 1])] }, metadata),
      /shape \[2,1\] does not match the model's \[-1,2\]/,
    );
  });

  void it('refuses two inputs to a single-input model', () => {
    assert.throws(
      () => decodeInputs({ inputs: [input('a', [1, 2]), input('b', [1, 2])] }, metadata),
      /the model takes one input, got 2 \('a', 'b'\)/,
    );
  });

  void it('explains an output the model cannot produce', () => {
    assert.throws(
      () => requestedOutputNames([{ name: 'predict_proba' }], metadata),
      /output 'predict_proba': only classifiers have predict_proba/,
    );
    assert.deepEqual(requestedOutputNames([{ name: 'predict' }], metadata), ['predict']);
  });
});

void describe('forestBytes', () => {
  void it('is the exact byte count of the forest typed arrays', () => {
    const builder = new ForestBuilder(1);
    // A stump: one split (node 0) with two leaves; then a single-leaf tree.
    builder.addTree({
      left: [1, -1, -1],
      right: [2, -1, -1],
      feature: [0, 0, 0],
      threshold: [0.5, 0, 0],
      flags: [0, 0, 0],
      leafValue: (node, out) => out.push(node),
      group: 0,
      weight: 1,
    });
    builder.addTree({
      left: [-1],
      right: [-1],
      feature: [0],
      threshold: [0],
      flags: [0],
      leafValue: (_node, out) => out.push(1),
      group: 0,
      weight: 1,
    });
    const forest = builder.build();
    // Per internal node: feature, left, right, catStart, catWords (Int32), threshold (Float64),
    // flags (Uint8) = 29 bytes; per leaf 8 bytes; per tree root, group (Int32), weight (Float64).
    assert.equal(forestBytes(forest), 1 * 29 + 3 * 8 + 2 * 16);
  });
});
