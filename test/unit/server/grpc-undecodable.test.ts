import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { ErrorCode } from '../../../server/src/errors.js';
import {
  undecodableError,
  withTolerantDecoding,
} from '../../../server/src/transport/grpc/undecodable.js';

const method = (decode: (b: Buffer) => unknown): MethodDefinition<unknown, unknown> => ({
  path: '/x.S/Run',
  requestStream: false,
  responseStream: false,
  requestSerialize: () => Buffer.alloc(0),
  requestDeserialize: decode,
  responseSerialize: () => Buffer.alloc(0),
  responseDeserialize: () => ({}),
});

describe('withTolerantDecoding', () => {
  it('keeps decoded requests as they are', () => {
    const def: ServiceDefinition = { Run: method(() => ({ ok: true })) };
    const request: unknown = withTolerantDecoding(def)['Run']?.requestDeserialize(Buffer.from([1]));
    assert.deepEqual(request, { ok: true });
    assert.equal(undecodableError(request, 'RunRequest'), undefined);
  });

  it('turns a decoder failure into an INVALID_INPUT naming the message type and the reason', () => {
    const def: ServiceDefinition = {
      Run: method(() => {
        throw new Error('invalid wire type 7 at offset 1');
      }),
    };
    const request: unknown = withTolerantDecoding(def)['Run']?.requestDeserialize(
      Buffer.from([0x7f]),
    );
    const error = undecodableError(request, 'RunRequest');
    assert.equal(error?.code, ErrorCode.INVALID_INPUT);
    assert.equal(
      error.message,
      'the request is not a valid RunRequest message (protobuf decoding failed: invalid wire type 7 at offset 1)',
    );
  });
});
