import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTensor } from '../../../server/src/core/tensor-decode.js';
import {
  bfloat16ToFloat,
  encodeRawStrings,
  halfToFloat,
  toJsonData,
  toRawBytes,
} from '../../../server/src/core/tensor-encode.js';
import type { Tensor } from '../../../server/src/core/types.js';

describe('toJsonData', () => {
  it('turns typed data into flat JSON values', () => {
    const t: Tensor = {
      name: 'y',
      datatype: 'INT64',
      shape: [2],
      data: new BigInt64Array([3n, -4n]),
    };
    assert.deepEqual(toJsonData(t), [3, -4]);
    const b: Tensor = { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([0, 1]) };
    assert.deepEqual(toJsonData(b), [false, true]);
    const s: Tensor = { name: 's', datatype: 'BYTES', shape: [1], data: [Buffer.from('ok')] };
    assert.deepEqual(toJsonData(s), ['ok']);
  });

  it('decodes FP16 and BF16 bits to numbers', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.equal(bfloat16ToFloat(0x3f80), 1);
    const t: Tensor = { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3800]) };
    assert.deepEqual(toJsonData(t), [0.5]);
  });
});

describe('toRawBytes', () => {
  it('round-trips every fixed-size datatype through decodeTensor', () => {
    const cases: [string, number[]][] = [
      ['INT8', [-1, 2]],
      ['UINT16', [65535, 1]],
      ['INT32', [-7, 8]],
      ['FP64', [0.1, -2.5]],
      ['UINT8', [0, 255]],
    ];
    for (const [datatype, values] of cases) {
      const original = decodeTensor({
        name: 'x',
        datatype,
        shape: [2],
        data: { kind: 'json', value: values },
      });
      const again = decodeTensor({
        name: 'x',
        datatype,
        shape: [2],
        data: { kind: 'raw', bytes: toRawBytes(original) },
      });
      assert.deepEqual(Array.from(again.data as ArrayLike<number>), values, datatype);
    }
  });

  it('length-prefixes BYTES elements little-endian', () => {
    const bytes = encodeRawStrings([Buffer.from('ab'), Buffer.alloc(0)]);
    assert.deepEqual(Array.from(bytes), [2, 0, 0, 0, 97, 98, 0, 0, 0, 0]);
  });
});
