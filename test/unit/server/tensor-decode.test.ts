import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeTensor, flatten } from '../../../server/src/core/tensor-decode.js';
import { ServerError } from '../../../server/src/errors.js';
import type { RequestInput } from '../../../server/src/core/types.js';

const json = (datatype: string, shape: unknown[], value: unknown): RequestInput => ({
  name: 'x',
  datatype,
  shape,
  data: { kind: 'json', value },
});
const raw = (datatype: string, shape: unknown[], bytes: Uint8Array): RequestInput => ({
  name: 'x',
  datatype,
  shape,
  data: { kind: 'raw', bytes },
});

function rejects(input: RequestInput, pattern: RegExp): void {
  assert.throws(
    () => decodeTensor(input),
    (error: unknown) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.code, 'SRV_ERR_INVALID_INPUT');
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('decodeTensor with JSON data', () => {
  it('accepts flat and nested data in row-major order', () => {
    const flat = decodeTensor(json('FP32', [2, 2], [1, 2, 3, 4]));
    const nested = decodeTensor(
      json(
        'FP32',
        [2, 2],
        [
          [1, 2],
          [3, 4],
        ],
      ),
    );
    assert.deepEqual(Array.from(flat.data as Float32Array), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(nested.data as Float32Array), [1, 2, 3, 4]);
    assert.ok(nested.data instanceof Float32Array);
  });

  it('decodes INT64 to BigInt64Array and BOOL to bytes', () => {
    const big = decodeTensor(json('INT64', [2], [1, -9007199254740991]));
    assert.deepEqual(Array.from(big.data as BigInt64Array), [1n, -9007199254740991n]);
    const bools = decodeTensor(json('BOOL', [3], [true, false, true]));
    assert.deepEqual(Array.from(bools.data as Uint8Array), [1, 0, 1]);
  });

  it('encodes BYTES strings as UTF-8', () => {
    const t = decodeTensor(json('BYTES', [2], ['héllo', '']));
    const data = t.data as readonly Uint8Array[];
    assert.equal(Buffer.from(data[0]!).toString('utf8'), 'héllo');
    assert.equal(data[1]!.length, 0);
  });

  it('treats an empty shape as a scalar', () => {
    const t = decodeTensor(json('INT32', [], 7));
    assert.deepEqual(Array.from(t.data as Int32Array), [7]);
  });

  it('accepts zero-size tensors', () => {
    const t = decodeTensor(json('FP32', [1, 0], []));
    assert.equal(t.data.length, 0);
  });

  it('rejects an element count that does not match the shape', () => {
    rejects(
      json('FP32', [2, 3], [1, 2, 3, 4, 5]),
      /input 'x': shape \[2,3\] needs 6 elements, got 5/,
    );
  });

  it('rejects unknown datatypes', () => {
    rejects(json('FP33', [1], [1]), /unknown datatype 'FP33'/);
  });

  it('rejects values out of the datatype range', () => {
    rejects(json('UINT8', [1], [300]), /element 0 \(300\) is not a valid UINT8/);
    rejects(json('INT32', [1], [2 ** 40]), /not a valid INT32/);
    rejects(json('INT32', [2], [1, 2.5]), /element 1 \(2.5\) is not a valid INT32/);
  });

  it('rejects strings where numbers are expected and numbers in BYTES', () => {
    rejects(json('INT32', [1], ['7']), /element 0 \("7"\) is not a valid INT32/);
    rejects(json('BYTES', [1], [7]), /element 0 \(7\) is not a valid BYTES/);
  });

  it('rejects negative, fractional, string and huge dimensions', () => {
    rejects(json('FP32', [-1], []), /dimension 0 must be a non-negative integer, got -1/);
    rejects(json('FP32', [1.5], []), /dimension 0 must be a non-negative integer, got 1.5/);
    rejects(json('FP32', ['2'], []), /dimension 0 must be a non-negative integer, got "2"/);
    rejects(json('FP32', [2 ** 60], []), /dimension 0 is too large/);
  });

  it('rejects shapes whose element count overflows before allocating', () => {
    rejects(json('FP32', [16, 2 ** 50], []), /too many elements/);
  });

  it('refuses FP16 in JSON (it only travels as binary)', () => {
    rejects(json('FP16', [1], [1]), /FP16 data must be sent as binary/);
  });

  it('reports missing data', () => {
    rejects(json('FP32', [1], undefined), /'data' is missing/);
  });
});

describe('decodeTensor with raw bytes', () => {
  it('views aligned little-endian bytes without copying', () => {
    const source = new Float32Array([1.5, -2, 3]);
    const bytes = new Uint8Array(source.buffer);
    const t = decodeTensor(raw('FP32', [3], bytes));
    assert.deepEqual(Array.from(t.data as Float32Array), [1.5, -2, 3]);
    assert.equal((t.data as Float32Array).buffer, source.buffer);
  });

  it('copies unaligned bytes instead of failing', () => {
    const backing = new Uint8Array(13);
    backing.set(new Uint8Array(new Int32Array([1, 2, 3]).buffer), 1);
    const t = decodeTensor(raw('INT32', [3], backing.subarray(1)));
    assert.deepEqual(Array.from(t.data as Int32Array), [1, 2, 3]);
  });

  it('rejects a byte size that does not match the shape', () => {
    rejects(raw('FP32', [1, 8], new Uint8Array(40)), /needs 32 bytes, got 40/);
  });

  it('parses length-prefixed BYTES elements', () => {
    const bytes = Buffer.from([2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0]);
    const t = decodeTensor(raw('BYTES', [2], bytes));
    const data = t.data as readonly Uint8Array[];
    assert.equal(Buffer.from(data[0]!).toString(), 'hi');
    assert.equal(data[1]!.length, 0);
  });

  it('rejects BYTES elements that run past the end or miscount', () => {
    rejects(
      raw('BYTES', [1], Buffer.from([9, 0, 0, 0, 1, 2])),
      /declares 9 bytes but only 2 remain/,
    );
    rejects(raw('BYTES', [2], Buffer.from([1, 0, 0, 0, 65])), /needs 2 elements, got 1 elements/);
    rejects(raw('BYTES', [1], Buffer.from([1, 0, 0, 0, 65, 66])), /trailing bytes/);
  });

  it('rejects BOOL bytes other than 0 and 1', () => {
    rejects(raw('BOOL', [2], new Uint8Array([1, 2])), /BOOL bytes must be 0 or 1/);
  });
});

describe('flatten', () => {
  it('returns flat arrays unchanged and flattens deep nesting iteratively', () => {
    const flat = [1, 2, 3];
    assert.equal(flatten(flat), flat);
    let deep: unknown[] = [5];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    assert.deepEqual(flatten(deep), [5]);
  });
});
