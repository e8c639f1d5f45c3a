import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleRequest } from '../../../server/src/core/example-request.js';
import { decodeRequest } from '../../../server/src/core/codecs/decode-request.js';
import type { InstanceMetadata } from '../../../server/src/core/model-runtime.js';
import type { InferenceRequest } from '../../../server/src/core/types.js';

const metadata: InstanceMetadata = {
  platform: 'test',
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 4] },
    { name: 'flag', datatype: 'BOOL', shape: [1] },
    { name: 'text', datatype: 'BYTES', shape: [-1] },
  ],
  outputs: [],
};

describe('exampleRequest', () => {
  it('builds a request that passes the server own validation', () => {
    const example = exampleRequest(metadata);
    assert.ok(example);
    const request: InferenceRequest = {
      inputs: (
        example.inputs as { name: string; shape: number[]; datatype: string; data: unknown[] }[]
      ).map((i) => ({
        name: i.name,
        shape: i.shape,
        datatype: i.datatype,
        data: { kind: 'json', value: i.data },
      })),
    };
    const tensors = decodeRequest(request, metadata, { inputs: [] });
    assert.deepEqual(
      tensors.map((t) => [t.name, t.shape]),
      [
        ['x', [1, 4]],
        ['flag', [1]],
        ['text', [1]],
      ],
    );
  });

  it('gives up on datatypes JSON cannot carry and on huge inputs', () => {
    assert.equal(
      exampleRequest({ inputs: [{ name: 'h', datatype: 'FP16', shape: [1] }] }),
      undefined,
    );
    assert.equal(
      exampleRequest({ inputs: [{ name: 'big', datatype: 'FP32', shape: [1, 3, 224, 224] }] }),
      undefined,
    );
  });
});
