// The Python worker's framing, Node side (server/src/runtime/python/wire.ts): round trips through
// any chunking, raw bodies kept byte for byte, and corrupt streams refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FrameDecoder,
  FrameError,
  HEADER_BYTES,
  MessageKind,
  encodeFrame,
} from '../../../server/src/runtime/python/wire.js';

describe('python worker frames', () => {
  it('writes the documented little-endian header', () => {
    const frame = encodeFrame(MessageKind.INFER, 7, { a: 1 }, [new Uint8Array([1, 2, 3])]);
    assert.equal(frame.toString('latin1', 0, 4), 'TSW1');
    assert.equal(frame.readUInt8(4), MessageKind.INFER);
    assert.equal(frame.readUInt32LE(8), 7);
    assert.equal(frame.readUInt32LE(12), Buffer.byteLength('{"a":1}'));
    assert.equal(frame.readUInt32LE(16), 3);
    assert.equal(frame.byteLength, HEADER_BYTES + 7 + 3);
  });

  it('decodes frames split at every byte and several in one chunk', () => {
    const floats = new Float32Array([1.5, -2.25, 3e30]);
    const body = new Uint8Array(floats.buffer);
    const one = encodeFrame(MessageKind.OK, 1, { outputs: ['x'] }, [body]);
    const two = encodeFrame(MessageKind.ERROR, 2, { message: 'no' });
    const stream = Buffer.concat([one, two]);
    const decoder = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < stream.byteLength; i++)
      frames.push(...decoder.push(stream.subarray(i, i + 1)));
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0]?.head, { outputs: ['x'] });
    assert.deepEqual(
      Array.from(
        new Float32Array(
          frames[0]?.body.buffer ?? new ArrayBuffer(12),
          frames[0]?.body.byteOffset,
          3,
        ),
      ),
      Array.from(floats),
    );
    assert.equal(frames[1]?.kind, MessageKind.ERROR);
    assert.equal(frames[1]?.id, 2);
    assert.deepEqual(
      new FrameDecoder().push(stream).map((f) => f.id),
      [1, 2],
    );
  });

  it('reassembles a large body from many reads, with the next frame in the last read', () => {
    // 1 MiB in 4093-byte reads: the body spans hundreds of chunks and the second frame's header
    // starts inside the chunk that completes the first.
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.byteLength; i++) big[i] = (i * 31 + 7) & 0xff;
    const stream = Buffer.concat([
      encodeFrame(MessageKind.OK, 1, { part: 'big' }, [big.subarray(0, 1000), big.subarray(1000)]),
      encodeFrame(MessageKind.OK, 2, { part: 'small' }, [new Uint8Array([9, 8, 7])]),
    ]);
    const decoder = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < stream.byteLength; i += 4093) {
      frames.push(...decoder.push(stream.subarray(i, i + 4093)));
    }
    assert.deepEqual(
      frames.map((f) => [f.id, f.head]),
      [
        [1, { part: 'big' }],
        [2, { part: 'small' }],
      ],
    );
    assert.ok(Buffer.from(frames[0]!.body).equals(Buffer.from(big)), 'the body byte for byte');
    assert.deepEqual(Array.from(frames[1]!.body), [9, 8, 7]);
  });

  it('refuses a stream that is not frames', () => {
    const bad = Buffer.alloc(HEADER_BYTES, 0x41);
    assert.throws(() => new FrameDecoder().push(bad), FrameError);
    const frame = encodeFrame(MessageKind.OK, 1, {});
    frame.writeUInt8(99, 4);
    assert.throws(() => new FrameDecoder().push(frame), /unknown frame kind 99/);
  });
});
