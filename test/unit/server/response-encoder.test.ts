import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferenceResponse } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { encodeInferResponse } from '../../../server/src/transport/http/response-encoder.js';

const ROWS = 40_000; // several slices
const probabilities = Float32Array.from({ length: ROWS * 3 }, (_, i) => (i % 7) / 7);
const labels = BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i % 3));

const response: InferenceResponse = {
  modelName: 'iris',
  modelVersion: '1',
  id: 'r1',
  parameters: { headers: { 'x-a': 'b' }, note: 'kept' },
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [ROWS], data: labels },
    { name: 'probabilities', datatype: 'FP32', shape: [ROWS, 3], data: probabilities },
  ],
};

describe('encodeInferResponse', () => {
  it('writes the same document JSON.stringify would, across slices', async () => {
    const encoded = await encodeInferResponse(response, () => false, 64 << 20);
    assert.equal(encoded.headers['content-type'], 'application/json');
    const expected = {
      model_name: 'iris',
      model_version: '1',
      id: 'r1',
      parameters: { note: 'kept' },
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [ROWS], data: Array.from(labels, Number) },
        {
          name: 'probabilities',
          datatype: 'FP32',
          shape: [ROWS, 3],
          data: Array.from(probabilities),
        },
      ],
    };
    assert.equal(encoded.body.toString('utf8'), JSON.stringify(expected));
  });

  it('puts binary outputs after the JSON header', async () => {
    const encoded = await encodeInferResponse(response, (n) => n === 'label', 64 << 20);
    const headerLength = Number(encoded.headers['inference-header-content-length']);
    const header = JSON.parse(encoded.body.subarray(0, headerLength).toString('utf8')) as {
      outputs: { name: string; parameters?: { binary_data_size: number } }[];
    };
    assert.deepEqual(header.outputs[0]?.parameters, { binary_data_size: ROWS * 8 });
    assert.equal(encoded.body.length, headerLength + ROWS * 8);
    assert.deepEqual(
      encoded.body.subarray(headerLength),
      Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength),
    );
  });

  it('refuses to build a body over the limit with PAYLOAD_TOO_LARGE', async () => {
    await assert.rejects(
      encodeInferResponse(response, () => false, 100_000),
      (error: unknown) => {
        assert.ok(error instanceof ServerError);
        assert.equal(error.code, ErrorCode.PAYLOAD_TOO_LARGE);
        assert.match(error.message, /model 'iris'.*limit of 100000 bytes \(max_response_bytes/);
        return true;
      },
    );
  });
});
