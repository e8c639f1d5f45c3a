import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fromGenerateDocument,
  isGenerateDocument,
  toGenerateDocument,
} from '../../../server/src/core/generate.js';

describe('isGenerateDocument', () => {
  it('takes flat documents and leaves V2 requests (with inputs) to infer', () => {
    assert.equal(isGenerateDocument({ text_input: 'hi' }), true);
    assert.equal(isGenerateDocument({ inputs: [] }), false);
    assert.equal(isGenerateDocument([1]), false);
    assert.equal(isGenerateDocument(null), false);
  });
});

describe('fromGenerateDocument', () => {
  it('makes every member but id and parameters an input, typed by the model when it declares it', () => {
    const request = fromGenerateDocument(
      {
        id: 'r',
        text_input: 'hello',
        max: 3,
        temperature: 0.5,
        flag: true,
        scale: 2,
        parameters: { stream: true },
      },
      { inputs: [{ name: 'scale', datatype: 'FP32', shape: [-1, 1] }] },
    );
    assert.equal(request.id, 'r');
    assert.deepEqual(request.parameters, { stream: true });
    assert.deepEqual(
      request.inputs.map((i) => [i.name, i.datatype, i.shape, i.data]),
      [
        ['text_input', 'BYTES', [1], { kind: 'json', value: ['hello'] }],
        ['max', 'INT64', [1], { kind: 'json', value: [3] }],
        ['temperature', 'FP64', [1], { kind: 'json', value: [0.5] }],
        ['flag', 'BOOL', [1], { kind: 'json', value: [true] }],
        ['scale', 'FP32', [1, 1], { kind: 'json', value: [2] }],
      ],
    );
    const list = fromGenerateDocument({ words: ['a', 'b'] }, { inputs: [] });
    assert.deepEqual(list.inputs[0]?.shape, [2]);
  });

  it('refuses members that are no tensor and a malformed id or parameters', () => {
    assert.throws(
      () => fromGenerateDocument({ x: {} }, { inputs: [] }),
      /generate member 'x' must be a string/,
    );
    assert.throws(
      () => fromGenerateDocument({ x: [] }, { inputs: [] }),
      /generate member 'x' is empty/,
    );
    assert.throws(
      () => fromGenerateDocument({ id: 3, x: 1 }, { inputs: [] }),
      /generate 'id' must be a string/,
    );
    assert.throws(
      () => fromGenerateDocument({ parameters: [], x: 1 }, { inputs: [] }),
      /'parameters' must be an object/,
    );
  });
});

describe('toGenerateDocument', () => {
  it('flattens outputs to members, one-element tensors as bare values', () => {
    const doc = toGenerateDocument({
      modelName: 'm',
      modelVersion: '1',
      id: 'r',
      outputs: [
        { name: 'text_output', datatype: 'BYTES', shape: [1], data: [Buffer.from('hi')] },
        { name: 'scores', datatype: 'FP32', shape: [2], data: new Float32Array([0.5, 0.25]) },
      ],
    });
    assert.deepEqual(doc, {
      model_name: 'm',
      model_version: '1',
      id: 'r',
      text_output: 'hi',
      scores: [0.5, 0.25],
    });
  });
});
