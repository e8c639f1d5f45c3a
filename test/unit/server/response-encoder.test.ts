import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InferenceResponse } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import fastify from 'fastify';
import {
  encodeInferResponse,
  sendEncoded,
} from '../../../server/src/transport/http/response-encoder.js';

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

describe('encodeInferResponse output parameters', () => {
  const labelled: InferenceResponse = {
    modelName: 'm',
    id: 'r2',
    outputs: [
      {
        name: 'predict',
        datatype: 'FP32',
        shape: [2, 1],
        data: new Float32Array([0.5, 1.5]),
        parameters: { content_type: 'np' },
      },
      { name: 'plain', datatype: 'FP32', shape: [1], data: new Float32Array([2]) },
    ],
  };

  it('carries the content type label in JSON and binary outputs, and nothing for unlabelled ones', async () => {
    const json = await encodeInferResponse(labelled, () => false, 1 << 20);
    const doc = JSON.parse(json.body.toString()) as { outputs: Record<string, unknown>[] };
    assert.deepEqual(doc.outputs[0]?.['parameters'], { content_type: 'np' });
    assert.equal('parameters' in (doc.outputs[1] ?? {}), false);
    const binary = await encodeInferResponse(labelled, (name) => name === 'predict', 1 << 20);
    const headerLength = Number(binary.headers['inference-header-content-length']);
    const header = JSON.parse(binary.body.subarray(0, headerLength).toString()) as {
      outputs: Record<string, unknown>[];
    };
    assert.deepEqual(header.outputs[0]?.['parameters'], {
      content_type: 'np',
      binary_data_size: 8,
    });
  });

  it('sends a large binary body part by part, byte for byte the joined body', async () => {
    const encoded = await encodeInferResponse(response, (n) => n === 'probabilities', 64 << 20);
    assert.equal(encoded.parts.length, 2, 'the JSON header and the output, not joined');
    const app = fastify();
    app.get('/', (_request, reply) => sendEncoded(reply.headers(encoded.headers), encoded));
    try {
      const res = await app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-length'], String(encoded.byteLength));
      assert.deepEqual(res.rawPayload, encoded.body);
      assert.equal(encoded.body.length, encoded.byteLength);
    } finally {
      await app.close();
    }
  });
});
