// core/response-cache.ts on in-memory tensors: which requests share a key, and the two bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseCache } from '../../../server/src/core/response-cache.js';
import type { RuntimeResult } from '../../../server/src/core/model-runtime.js';
import type { Tensor } from '../../../server/src/core/types.js';

const fp32 = (values: number[], name = 'x'): Tensor => ({
  name,
  datatype: 'FP32',
  shape: [values.length],
  data: Float32Array.from(values),
});

const bytes = (values: string[]): Tensor => ({
  name: 's',
  datatype: 'BYTES',
  shape: [values.length],
  data: values.map((v) => new TextEncoder().encode(v)),
});

const answer = (size: number): RuntimeResult => ({
  outputs: [{ name: 'y', datatype: 'UINT8', shape: [size], data: new Uint8Array(size) }],
});

void describe('response cache keys', () => {
  const cache = new ResponseCache({ maxEntries: 10, maxBytes: 1 << 20 });
  const model = {};

  void it('gives equal requests one key, whatever their buffers', () => {
    const a = cache.key(model, { inputs: [fp32([1, 2, 3])] });
    const view = new Float32Array(new Float32Array([0, 1, 2, 3]).buffer, 4, 3);
    const b = cache.key(model, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [3], data: view }],
    });
    assert.equal(a, b);
    assert.equal(
      cache.key(model, { inputs: [{ ...fp32([1]), parameters: { binary_data_size: 4 } }] }),
      cache.key(model, { inputs: [fp32([1])], parameters: { binary_data_output: true } }),
    );
    assert.equal(
      cache.key(model, { inputs: [fp32([1])], parameters: { a: 1, b: 2 } }),
      cache.key(model, { inputs: [fp32([1])], parameters: { b: 2, a: 1 } }),
    );
  });

  void it('tells apart what can change the answer', () => {
    const base = cache.key(model, { inputs: [fp32([1, 2])] });
    const others = [
      cache.key({}, { inputs: [fp32([1, 2])] }),
      cache.key(model, { inputs: [fp32([1, 3])] }),
      cache.key(model, { inputs: [fp32([1, 2], 'z')] }),
      cache.key(model, { inputs: [{ ...fp32([1, 2]), shape: [1, 2] }] }),
      cache.key(model, { inputs: [fp32([1, 2])], parameters: { content_type: 'np' } }),
      cache.key(model, { inputs: [fp32([1, 2])], outputNames: ['y'] }),
      cache.key(model, { inputs: [{ ...fp32([1, 2]), parameters: { content_type: 'np' } }] }),
    ];
    for (const other of others) assert.notEqual(other, base);
    assert.notEqual(
      cache.key(model, { inputs: [bytes(['ab', 'c'])] }),
      cache.key(model, { inputs: [bytes(['a', 'bc'])] }),
    );
  });
});

void describe('response cache bounds', () => {
  void it('keeps at most maxEntries answers, evicting the least recently used', () => {
    let evicted = 0;
    const cache = new ResponseCache({
      maxEntries: 2,
      maxBytes: 1 << 20,
      onEvict: () => {
        evicted++;
      },
    });
    cache.set('a', answer(1));
    cache.set('b', answer(1));
    assert.ok(cache.get('a') !== undefined); // a is now the most recently used
    cache.set('c', answer(1));
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('a') !== undefined);
    assert.equal(cache.size, 2);
    assert.equal(evicted, 1);
  });

  void it('keeps at most maxBytes of tensor data and never an answer larger than that', () => {
    const cache = new ResponseCache({ maxEntries: 100, maxBytes: 1000 });
    cache.set('big', answer(2000));
    assert.equal(cache.get('big'), undefined);
    for (let i = 0; i < 5; i++) cache.set(String(i), answer(300));
    assert.ok(cache.size <= 3, `held ${cache.size} answers of 300 bytes in 1000`);
    assert.ok(cache.get('4') !== undefined);
  });
});
