// BYTES are arbitrary bytes in the V2 protocol: every codec must carry NULs, bytes that are not
// UTF-8, a leading byte-order mark and empty elements through unchanged, and say so clearly where
// a representation cannot (JSON strings are Unicode text; onnxruntime-node string tensors end at
// NUL and are UTF-8).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeTensor } from '../../../server/src/core/tensor-decode.js';
import {
  encodeRawStrings,
  toJsonData,
  toRawBytes,
} from '../../../server/src/core/tensor-encode.js';
import type { InferenceResponse, Tensor, WireData } from '../../../server/src/core/types.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { fromPortable, runSession, toPortable } from '../../../server/src/runtime/onnx-tensors.js';
import {
  fromCoreInferResponse as fromCoreGrpc,
  toCoreInferRequest as toCoreGrpc,
} from '../../../server/src/transport/grpc/convert.js';
import { toCoreInferRequest as toCoreHttp } from '../../../server/src/transport/http/infer-codec.js';
import { encodeInferResponse } from '../../../server/src/transport/http/response-encoder.js';
import type { ModelInferRequest__Output } from '../../../server/src/generated/inference/ModelInferRequest.js';

const bytes = (...values: (string | number[])[]): Uint8Array[] =>
  values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Uint8Array.from(v)));

/** Arbitrary elements: NULs, not-UTF-8, a BOM, an empty one. */
const ARBITRARY = bytes('he\x00llo', [0xff, 0xfe, 0x00], '\ufeffbom', '', [0xc3], 'é😀');
/** The same minus what JSON cannot carry (bytes that are not UTF-8). */
const TEXT = bytes('he\x00llo', '\ufeffbom', '', 'é😀', '\x00');

const hex = (elements: readonly Uint8Array[]): string[] =>
  elements.map((e) => Buffer.from(e).toString('hex'));

function bytesTensor(elements: readonly Uint8Array[]): Tensor {
  return { name: 'output', datatype: 'BYTES', shape: [elements.length], data: elements };
}

function response(elements: readonly Uint8Array[]): InferenceResponse {
  return { modelName: 'strings', id: '1', outputs: [bytesTensor(elements)] };
}

function assertInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServerError);
    assert.equal(error.code, ErrorCode.INVALID_INPUT);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Decodes a BYTES input named `input` of `count` elements. */
const decodeInput = (count: number, data: WireData): Tensor =>
  decodeTensor({ name: 'input', datatype: 'BYTES', shape: [count], data });

describe('BYTES in the core codecs', () => {
  it('round-trips arbitrary bytes through raw decoding and encoding', () => {
    const raw = encodeRawStrings(ARBITRARY);
    const tensor = decodeInput(ARBITRARY.length, { kind: 'raw', bytes: raw });
    assert.deepEqual(hex(tensor.data as Uint8Array[]), hex(ARBITRARY));
    assert.deepEqual(Buffer.from(toRawBytes(tensor)), Buffer.from(raw));
  });

  it('round-trips text with NULs and a BOM through JSON', () => {
    const strings = TEXT.map((e) => Buffer.from(e).toString('utf8'));
    const tensor = decodeInput(strings.length, { kind: 'json', value: strings });
    assert.deepEqual(hex(tensor.data as Uint8Array[]), hex(TEXT));
    assert.deepEqual(toJsonData(tensor), strings);
  });

  it('refuses a JSON string with a lone surrogate instead of replacing it', () => {
    assertInvalid(
      () => decodeInput(2, { kind: 'json', value: ['ok', 'a\ud800'] }),
      /input 'input': BYTES element 1 is not valid Unicode text/,
    );
  });

  it('refuses to send bytes that are not UTF-8 as a JSON string, pointing at binary output', () => {
    assertInvalid(
      () => toJsonData(bytesTensor(bytes('ok', [0xff]))),
      /output 'output': BYTES element 1 is not valid UTF-8.*binary_data/,
    );
  });
});

describe('BYTES through the HTTP codec', () => {
  it('round-trips arbitrary bytes through the binary extension', async () => {
    const raw = Buffer.from(encodeRawStrings(ARBITRARY));
    const request = toCoreHttp({
      json: {
        inputs: [
          {
            name: 'input',
            datatype: 'BYTES',
            shape: [ARBITRARY.length],
            parameters: { binary_data_size: raw.length },
          },
        ],
      },
      binary: raw,
    });
    const input = request.inputs[0];
    assert.ok(input?.data.kind === 'raw');
    assert.deepEqual(Buffer.from(input.data.bytes), raw);
    const encoded = await encodeInferResponse(response(ARBITRARY), () => true, 1 << 20);
    const body = encoded.body;
    const headerLength = Number(encoded.headers['inference-header-content-length']);
    assert.deepEqual(body.subarray(headerLength), raw);
  });

  it('round-trips text with NULs through JSON bodies', async () => {
    const strings = TEXT.map((e) => Buffer.from(e).toString('utf8'));
    const encoded = await encodeInferResponse(response(TEXT), () => false, 1 << 20);
    const doc = JSON.parse(encoded.body.toString('utf8')) as { outputs: { data: string[] }[] };
    assert.deepEqual(doc.outputs[0]?.data, strings);
  });
});

describe('BYTES through the gRPC codec', () => {
  const request = (contents: object, raw: Buffer[] = []): ModelInferRequest__Output =>
    ({
      model_name: 'strings',
      model_version: '',
      id: '',
      parameters: {},
      inputs: [
        {
          name: 'input',
          datatype: 'BYTES',
          shape: [String(ARBITRARY.length)],
          parameters: {},
          contents: raw.length > 0 ? null : contents,
        },
      ],
      outputs: [],
      raw_input_contents: raw,
    }) as unknown as ModelInferRequest__Output;

  it('round-trips arbitrary bytes through typed bytes_contents', () => {
    const core = toCoreGrpc(request({ bytes_contents: ARBITRARY.map((e) => Buffer.from(e)) }));
    const input = core.inputs[0];
    assert.ok(input !== undefined);
    const tensor = decodeTensor(input);
    assert.deepEqual(hex(tensor.data as Uint8Array[]), hex(ARBITRARY));
    const out = fromCoreGrpc(response(ARBITRARY), false);
    assert.deepEqual(hex(out.outputs?.[0]?.contents?.bytes_contents as Buffer[]), hex(ARBITRARY));
  });

  it('round-trips arbitrary bytes through raw contents', () => {
    const raw = Buffer.from(encodeRawStrings(ARBITRARY));
    const input = toCoreGrpc(request({}, [raw])).inputs[0];
    assert.ok(input !== undefined);
    assert.deepEqual(hex(decodeTensor(input).data as Uint8Array[]), hex(ARBITRARY));
    const out = fromCoreGrpc(response(ARBITRARY), true);
    assert.deepEqual(out.raw_output_contents?.[0], raw);
  });
});

describe('BYTES into onnxruntime-node string tensors', () => {
  const model = 'test/fixtures/models/strings/model.onnx';

  it('cuts strings at NUL (the reason NULs are refused)', async () => {
    // If this starts failing, onnxruntime-node carries NULs and the refusal can go.
    const session = await ort.InferenceSession.create(model);
    try {
      const feeds = [{ name: 'input', type: 'string' as const, dims: [1], data: ['he\x00llo'] }];
      const [out] = await runSession(ort, session, feeds, ['output']);
      assert.deepEqual(out?.data, ['he']);
    } finally {
      await session.release();
    }
  });

  it('carries UTF-8 text, a BOM and empty elements exactly', async () => {
    const session = await ort.InferenceSession.create(model);
    try {
      const text = bytes('', '\ufeffbom', 'é😀', ' x ', '\x7f');
      const feeds = [toPortable({ ...bytesTensor(text), name: 'input' })];
      const [out] = await runSession(ort, session, feeds, ['output']);
      assert.ok(out !== undefined);
      assert.deepEqual(hex(fromPortable(out).data as Uint8Array[]), hex(text));
    } finally {
      await session.release();
    }
  });

  it('refuses NULs and bytes that are not UTF-8, naming the element', () => {
    assertInvalid(
      () => toPortable({ ...bytesTensor(bytes('ok', 'he\x00llo')), name: 'input' }),
      /input 'input': BYTES element 1 contains a NUL byte/,
    );
    assertInvalid(
      () => toPortable({ ...bytesTensor(bytes([0xc3, 0x28])), name: 'input' }),
      /input 'input': BYTES element 0 is not valid UTF-8/,
    );
  });
});
