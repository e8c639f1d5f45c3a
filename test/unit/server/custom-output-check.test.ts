import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { checkRuntimeResponse } from '../../../server/src/runtime/custom/output-check.js';

const malformed = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ServerError);
  assert.equal(error.code, ErrorCode.INFERENCE_FAILED);
  assert.match(error.message, /^model 'm' returned a malformed response: /);
  assert.match(error.message, pattern);
  return true;
};

describe('checkRuntimeResponse', () => {
  it('turns plain arrays into typed tensors and keeps typed arrays and parameters', () => {
    const result = checkRuntimeResponse('m', {
      outputs: [
        { name: 'text', datatype: 'BYTES', shape: [2], data: ['a', 'b'] },
        { name: 'n', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
        { name: 'f', datatype: 'FP32', shape: [2], data: new Float32Array([0.5, 1]) },
        { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
      ],
      parameters: { content_type: 'np' },
    });
    const [text, n, f, h] = result.outputs;
    assert.deepEqual(
      (text?.data as Uint8Array[]).map((b) => Buffer.from(b).toString()),
      ['a', 'b'],
    );
    assert.deepEqual(n?.data, new BigInt64Array([1n, 2n]));
    assert.deepEqual(n?.shape, [1, 2]);
    assert.deepEqual(f?.data, new Float32Array([0.5, 1]));
    assert.deepEqual(h?.data, new Uint16Array([0x3c00]));
    assert.deepEqual(result.parameters, { content_type: 'np' });
  });

  it('refuses each malformed answer with a message naming the model and the output', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /an object with an 'outputs' array/],
      [[1], /an object with an 'outputs' array/],
      [{ outputs: 'x' }, /an object with an 'outputs' array/],
      [{ outputs: [7] }, /outputs\[0\] is not an object/],
      [{ outputs: [{ datatype: 'FP32', shape: [1], data: [1] }] }, /outputs\[0\] has no name/],
      [
        { outputs: [{ name: 'o', datatype: 'FP32', shape: [1], data: 1 }] },
        /output 'o': data must be an array/,
      ],
      [
        { outputs: [{ name: 'o', shape: [1], data: [1] }] },
        /output 'o' needs a datatype and a shape/,
      ],
      [
        { outputs: [{ name: 'o', datatype: 'TEXT', shape: [1], data: [1] }] },
        /output 'o': unknown datatype 'TEXT'/,
      ],
      [{ outputs: [{ name: 'o', datatype: 'FP32', shape: [-2], data: [1] }] }, /output 'o'/],
      [
        { outputs: [{ name: 'o', datatype: 'FP32', shape: [3], data: [1] }] },
        /output 'o': shape \[3\] needs 3 elements, got 1/,
      ],
      [
        { outputs: [{ name: 'o', datatype: 'UINT8', shape: [1], data: [300] }] },
        /output 'o': element 0 \(300\) is not a valid UINT8 value/,
      ],
      [
        {
          outputs: [
            { name: 'o', datatype: 'BOOL', shape: [1], data: [true] },
            { name: 'o', datatype: 'BOOL', shape: [1], data: [false] },
          ],
        },
        /output 'o' appears more than once/,
      ],
      [{ outputs: [], parameters: 'x' }, /'parameters' must be an object/],
    ];
    for (const [value, pattern] of cases) {
      assert.throws(() => checkRuntimeResponse('m', value), malformed(pattern), String(pattern));
    }
  });
});
