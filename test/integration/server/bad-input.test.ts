// Bad input against the real server (reliability-catalogue §4 A1–A8, E36, §3.6): one table of
// cases runs through both the REST and the gRPC adapter. Every case checks the status, that the
// message names the input (or model) and says what is wrong, that it leaks no path or stack trace
// (REST bodies are exactly {"error": "..."}), and that a good inference on the same model still
// succeeds afterwards. A case that one protocol cannot express says why instead of a request.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  assertGrpcError,
  assertGrpcServes,
  assertRestError,
  assertRestServes,
  type GoodModel,
} from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';

/** A tensor in protocol-neutral form; each adapter below encodes it for its wire. */
interface TensorSpec {
  name: string;
  datatype: string;
  shape: (number | string)[];
  data: unknown[];
}

interface RestRequest {
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

interface GrpcRequest {
  method: string;
  service?: 'inference' | 'repository';
  request: object;
}

interface Case {
  name: string;
  /** The model the follow-up good inference runs on. */
  model: GoodModel;
  /** Neutral inputs/outputs, encoded for both protocols unless a protocol gives its own request. */
  inputs?: TensorSpec[];
  outputs?: string[];
  version?: string;
  inferModel?: string;
  /** A protocol-specific request; a string means "not expressible on this protocol, because ...". */
  rest?: RestRequest | string;
  grpc?: GrpcRequest | string;
  http: number;
  code: status;
  /** What every message must contain; per-protocol lists override it. */
  mentions: (string | RegExp)[];
  restMentions?: (string | RegExp)[];
  grpcMentions?: (string | RegExp)[];
  /** Why REST and gRPC messages may differ although the request is the same. */
  differs?: string;
}

const SEQ = Array.from({ length: 16 }, (_, i) => i + 1);
const ONES = SEQ.map(() => 1);
const int32 = (
  name: string,
  data: unknown[] = SEQ,
  shape: (number | string)[] = [1, 16],
): TensorSpec => ({
  name,
  datatype: 'INT32',
  shape,
  data,
});
const GOOD_SIMPLE = [int32('INPUT0'), int32('INPUT1', ONES)];
const TWO_POW_60 = 2 ** 60;

/** The JSON nesting the depth cases use: 4 levels of envelope plus `levels` of arrays. */
const nested = (levels: number): string => `${'['.repeat(levels)}1${']'.repeat(levels)}`;

/** Little-endian INT32 bytes. */
function int32Bytes(values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buffer.writeInt32LE(v, i * 4));
  return buffer;
}

const CONTENTS_FIELD: Record<string, string> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

function grpcTensor(t: TensorSpec): object {
  const field = CONTENTS_FIELD[t.datatype] ?? 'int_contents';
  const values = t.datatype === 'BYTES' ? t.data.map((v) => Buffer.from(String(v))) : t.data;
  return { name: t.name, datatype: t.datatype, shape: t.shape, contents: { [field]: values } };
}

const cases: Case[] = [
  // ---- A4 datatypes ----
  {
    name: 'datatype differs from the model metadata',
    model: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: SEQ.map((v) => v + 0.5) },
      int32('INPUT1'),
    ],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'FP32', 'INT32'],
  },
  {
    name: 'unknown datatype FP33',
    model: 'simple',
    inputs: [{ name: 'INPUT0', datatype: 'FP33', shape: [1, 16], data: SEQ }, int32('INPUT1')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'unknown datatype', 'FP33'],
  },
  {
    name: 'value 300 out of range for UINT8',
    model: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'UINT8', shape: [1, 16], data: [300, ...SEQ.slice(1)] },
      int32('INPUT1'),
    ],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", '300', 'UINT8'],
  },
  {
    name: 'value 2^40 out of range for INT32',
    model: 'simple',
    inputs: [int32('INPUT0', [2 ** 40, ...SEQ.slice(1)]), int32('INPUT1')],
    grpc: 'int_contents is a protobuf int32: 2^40 cannot be put on the wire',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", String(2 ** 40), 'INT32'],
  },
  {
    name: 'string in an INT32 tensor',
    model: 'simple',
    inputs: [int32('INPUT0', ['abc', ...SEQ.slice(1)]), int32('INPUT1')],
    grpc: {
      // The gRPC form of "a string in INT32": the values travel in bytes_contents.
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          {
            name: 'INPUT0',
            datatype: 'INT32',
            shape: [1, 16],
            contents: { bytes_contents: SEQ.map((v) => Buffer.from(String(v))) },
          },
          grpcTensor(int32('INPUT1')),
        ],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'"],
    restMentions: ["'INPUT0'", '"abc"', 'INT32'],
    grpcMentions: ["'INPUT0'", 'INT32', 'int_contents', 'bytes_contents'],
  },
  {
    name: 'finite value beyond the FP32 range (1e300)',
    model: 'iris',
    inferModel: 'iris',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1e300, 3.5, 1.4, 0.2] }],
    grpc: 'fp32_contents is a protobuf float: 1e300 cannot be put on the wire',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'input'", 'element 0', '1e+300', 'FP32'],
  },
  {
    name: 'FP16 values sent as JSON / typed contents',
    model: 'iris',
    inferModel: 'iris',
    inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'iris',
        inputs: [
          {
            name: 'input',
            datatype: 'FP16',
            shape: [1, 4],
            contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] },
          },
        ],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'input'", 'FP16', 'must be sent as', 'not'],
  },
  {
    name: "'data' is an object",
    model: 'iris',
    rest: {
      path: '/v2/models/iris/infer',
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: { a: 1 } }],
      }),
    },
    grpc: 'contents is a typed message, it cannot be an arbitrary object',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'input'", "'data' must be an array", 'object'],
  },
  // ---- A1 / A3 shapes ----
  {
    name: 'shape [1,16] with 15 elements',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ.slice(1)), int32('INPUT1')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", '[1,16]', '16 elements', 'got 15'],
  },
  {
    name: 'negative dimension',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ, [-1, 16]), int32('INPUT1')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'dimension 0', 'non-negative', '-1'],
  },
  {
    name: 'fractional dimension',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ, [1.5, 16]), int32('INPUT1')],
    grpc: 'shape is repeated int64: a fraction cannot be put on the wire',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'dimension 0', 'non-negative integer', '1.5'],
  },
  {
    name: 'dimension larger than 2^53',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ, [1, 2 ** 53 + 2]), int32('INPUT1')],
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          grpcTensor(int32('INPUT0', SEQ, [1, '9007199254740993'])),
          grpcTensor(int32('INPUT1')),
        ],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'dimension 1', 'too large'],
  },
  {
    name: 'shape [16, 2^60]',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ, [16, TWO_POW_60]), int32('INPUT1')],
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          grpcTensor(int32('INPUT0', SEQ, [16, '1152921504606846976'])),
          grpcTensor(int32('INPUT1')),
        ],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'dimension 1', 'too large'],
  },
  {
    name: 'element-count product overflow [2^27, 2^27]',
    model: 'simple',
    inputs: [int32('INPUT0', SEQ, [2 ** 27, 2 ** 27]), int32('INPUT1')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'too many elements'],
  },
  // ---- A5 names ----
  {
    name: 'missing input',
    model: 'simple',
    inputs: [int32('INPUT0')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['missing', 'INPUT1'],
  },
  {
    name: 'unknown input',
    model: 'simple',
    inputs: [...GOOD_SIMPLE, int32('INPUT9')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['unknown input', "'INPUT9'", 'INPUT0, INPUT1'],
  },
  {
    name: 'duplicate input',
    model: 'simple',
    inputs: [int32('INPUT0'), int32('INPUT0'), int32('INPUT1')],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'more than once'],
  },
  {
    name: 'duplicate requested output',
    model: 'simple',
    inputs: GOOD_SIMPLE,
    outputs: ['OUTPUT0', 'OUTPUT0'],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["output 'OUTPUT0'", 'more than once'],
  },
  {
    name: 'unknown requested output',
    model: 'simple',
    inputs: GOOD_SIMPLE,
    outputs: ['OUTPUT9'],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["output 'OUTPUT9'", 'unknown', 'OUTPUT0, OUTPUT1'],
  },
  // ---- A2 BYTES and raw contents ----
  {
    name: 'bad BYTES element',
    model: 'strings',
    // REST: a number where a string belongs.
    inputs: [{ name: 'input', datatype: 'BYTES', shape: [2], data: ['ok', 7] }],
    // gRPC: the second element's length prefix (100) runs past the end of the buffer.
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'strings',
        inputs: [{ name: 'input', datatype: 'BYTES', shape: [2] }],
        raw_input_contents: [Buffer.from([2, 0, 0, 0, 0x6f, 0x6b, 100, 0, 0, 0, 0x61, 0x62, 0x63])],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'input'", 'element 1'],
    restMentions: ["'input'", 'element 1', 'BYTES'],
    grpcMentions: ["'input'", 'element 1', 'declares 100 bytes', '3 remain'],
  },
  {
    name: 'raw_input_contents count differs from inputs',
    model: 'simple',
    rest: 'raw_input_contents is gRPC only (REST binary chunks are claimed by binary_data_size)',
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
        ],
        raw_input_contents: [int32Bytes(SEQ)],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['raw_input_contents', '1 entries', '2 inputs'],
  },
  {
    name: 'raw byte size differs from the shape (60 bytes for INT32 [1,16])',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'content-type': 'application/octet-stream' },
      body: binaryBody(
        [
          {
            name: 'INPUT0',
            shape: [1, 16],
            datatype: 'INT32',
            parameters: { binary_data_size: 60 },
          },
          { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: ONES },
        ],
        int32Bytes(SEQ).subarray(0, 60),
      ),
    },
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
        ],
        raw_input_contents: [int32Bytes(SEQ).subarray(0, 60), int32Bytes(ONES)],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", '64 bytes', 'got 60'],
  },
  {
    name: 'binary_data_size larger than the binary data',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'content-type': 'application/octet-stream' },
      body: binaryBody(
        [
          {
            name: 'INPUT0',
            shape: [1, 16],
            datatype: 'INT32',
            parameters: { binary_data_size: 64 },
          },
          {
            name: 'INPUT1',
            shape: [1, 16],
            datatype: 'INT32',
            parameters: { binary_data_size: 64 },
          },
        ],
        Buffer.concat([int32Bytes(SEQ), int32Bytes(ONES).subarray(0, 40)]),
      ),
    },
    grpc: 'gRPC has no binary_data_size; see the raw size case',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT1'", 'binary_data_size 64', 'past the end'],
  },
  {
    name: 'contents and raw_input_contents both set',
    model: 'simple',
    rest: 'REST has no typed contents',
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          grpcTensor(int32('INPUT0')),
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
        ],
        raw_input_contents: [int32Bytes(SEQ), int32Bytes(ONES)],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", 'raw_input_contents', 'contents', 'not both'],
  },
  {
    name: 'input without any data',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      body: JSON.stringify({
        inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'INT32' }, { ...int32('INPUT1') }],
      }),
    },
    grpc: {
      method: 'ModelInfer',
      request: {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
          grpcTensor(int32('INPUT1')),
        ],
      },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'"],
  },
  // ---- A6 unknown model / version ----
  {
    name: 'unknown model',
    model: 'simple',
    inferModel: 'no-such-model',
    inputs: GOOD_SIMPLE,
    http: 404,
    code: status.NOT_FOUND,
    mentions: ["Request for unknown model: 'no-such-model' is not found"],
  },
  {
    name: 'unknown version of a known model',
    model: 'iris',
    inferModel: 'iris',
    version: '7',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    http: 404,
    code: status.NOT_FOUND,
    mentions: ["Request for unknown model: 'iris' version 7 is not found"],
  },
  {
    name: 'model that failed to load (its reason must not leak paths)',
    model: 'simple',
    inferModel: 'broken',
    inputs: GOOD_SIMPLE,
    http: 503,
    code: status.UNAVAILABLE,
    mentions: ["Request for unknown model: 'broken' has no available versions"],
  },
  {
    name: 'load of a model whose ONNX file is corrupt (the runtime error names a path)',
    model: 'simple',
    rest: { path: '/v2/repository/models/broken/load' },
    grpc: { method: 'RepositoryModelLoad', request: { model_name: 'broken' } },
    http: 422,
    code: status.FAILED_PRECONDITION,
    mentions: ["model 'broken'", 'model.onnx is not an ONNX file'],
  },
  {
    name: 'load of a model whose relative uri leaves the repository',
    model: 'simple',
    rest: { path: '/v2/repository/models/escape/load' },
    grpc: {
      method: 'RepositoryModelLoad',
      service: 'repository',
      request: { model_name: 'escape' },
    },
    http: 422,
    code: status.FAILED_PRECONDITION,
    mentions: ["model 'escape'", 'must stay inside the model repository'],
  },
  {
    name: 'inference on a model whose relative uri leaves the repository',
    model: 'simple',
    inferModel: 'escape',
    inputs: GOOD_SIMPLE,
    http: 503,
    code: status.UNAVAILABLE,
    mentions: [
      "Request for unknown model: 'escape' has no available versions",
      'must stay inside the model repository',
    ],
  },
  // ---- echoed names stay short: gRPC sends the message in a trailer, which has a size limit ----
  {
    name: 'model name of 100 000 characters',
    model: 'simple',
    inferModel: 'm'.repeat(100_000),
    inputs: GOOD_SIMPLE,
    rest: 'a REST path parameter is capped at 256 characters (see the router case)',
    // Longer than a name may be (253 characters), so invalid rather than unknown.
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name "mmmm', 'letters, digits'],
  },
  {
    name: 'unknown input with a 100 000-character name',
    model: 'simple',
    inputs: [...GOOD_SIMPLE, int32('i'.repeat(100_000))],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["unknown input 'iiii", 'INPUT0, INPUT1'],
  },
  {
    name: 'unknown output with a 100 000-character name',
    model: 'simple',
    inputs: GOOD_SIMPLE,
    outputs: ['o'.repeat(100_000)],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["unknown output 'oooo", 'OUTPUT0, OUTPUT1'],
  },
  {
    name: 'unknown version with a 100 000-character name',
    model: 'iris',
    inferModel: 'iris',
    version: 'v'.repeat(100_000),
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    rest: 'a REST path parameter is capped at 256 characters (see the router case)',
    http: 404,
    code: status.NOT_FOUND,
    mentions: ["Request for unknown model: 'iris' version vvvv", 'is not found'],
  },
  {
    name: 'shape with 20 000 dimensions',
    model: 'simple',
    inputs: [
      int32(
        'INPUT0',
        SEQ,
        Array.from({ length: 20_000 }, () => 1),
      ),
      int32('INPUT1'),
    ],
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ["'INPUT0'", '20000 dimensions', 'needs 1 elements, got 16'],
  },
  {
    name: 'input name with a lone surrogate, bad shape',
    model: 'simple',
    inputs: [int32('INPUT0'), int32('INPUT1'), int32('X\ud800Y', SEQ, [-1])],
    differs:
      'protobufjs writes a lone surrogate as 3 bytes, each decoded as U+FFFD; JSON carries it as one escape',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['unknown input'],
  },
  // ---- E36 model names ----
  {
    name: 'path traversal in the model name on metadata',
    model: 'simple',
    rest: { method: 'GET', path: '/v2/models/..%2F..%2Fetc' },
    grpc: { method: 'ModelMetadata', request: { name: '../../etc' } },
    // Invalid names are 400 on every route, as on the repository routes (docs/errors.md).
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name', '../../etc'],
  },
  {
    name: 'path traversal in the model name on model ready',
    model: 'simple',
    rest: { method: 'GET', path: '/v2/models/..%2Fetc/ready' },
    grpc: { method: 'ModelReady', request: { name: '../etc' } },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name', '../etc'],
  },
  {
    name: 'path traversal in the model name on infer',
    model: 'simple',
    inferModel: '../simple',
    inputs: GOOD_SIMPLE,
    rest: {
      path: '/v2/models/..%2Fsimple/infer',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name', '../simple'],
  },
  {
    name: 'path traversal in the model name on load',
    model: 'simple',
    rest: { path: '/v2/repository/models/..%2F..%2Fetc/load' },
    grpc: { method: 'RepositoryModelLoad', request: { model_name: '../etc' } },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name', '..'],
  },
  {
    name: 'path traversal to a sibling of the repository on load',
    model: 'simple',
    rest: { path: '/v2/repository/models/..%2Foutside/load' },
    grpc: {
      method: 'RepositoryModelLoad',
      service: 'repository',
      request: { model_name: '../outside' },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name', 'outside'],
  },
  {
    name: 'absolute path as the model name on unload',
    model: 'simple',
    rest: { path: '/v2/repository/models/%2Fetc%2Fpasswd/unload' },
    grpc: { method: 'RepositoryModelUnload', request: { model_name: '/etc/passwd' } },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['invalid model name'],
  },
  {
    name: 'empty model name on infer',
    model: 'simple',
    rest: 'the REST route has the name in the path; an empty segment is another route',
    grpc: {
      method: 'ModelInfer',
      request: { model_name: '', inputs: GOOD_SIMPLE.map(grpcTensor) },
    },
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['model_name'],
  },
  {
    name: 'model name longer than the router allows',
    model: 'simple',
    rest: {
      path: `/v2/models/${'m'.repeat(300)}/infer`,
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'gRPC has no path parameters; a long name is just an unknown model',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['too long'],
  },
  {
    name: 'URL with a broken percent-encoding',
    model: 'simple',
    rest: { path: '/v2/models/%E0%A4%A/infer', body: JSON.stringify({ inputs: GOOD_SIMPLE }) },
    grpc: 'gRPC has no URL',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['URL', 'percent-encoding'],
  },
  {
    name: 'unsupported Content-Encoding',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'content-encoding': 'br' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'REST header',
    http: 415,
    code: status.INVALID_ARGUMENT,
    mentions: ['Content-Encoding', 'br'],
  },
  {
    name: 'gzip Content-Encoding on a body that is not gzip',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'content-encoding': 'gzip' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'REST header',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['decompress'],
  },
  {
    name: 'nested data one level past max_json_depth',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      // { inputs [ { data = 3 levels, so 98 array levels make 101.
      body: `{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":${'['.repeat(97)}[${SEQ.join(',')}]${']'.repeat(97)}}]}`,
    },
    grpc: 'protobuf framing, not JSON',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['deeper than the limit of 100'],
  },
  // ---- A8 parser hardening (REST only: protobuf has no JSON, headers or content types) ----
  {
    name: 'malformed JSON',
    model: 'simple',
    rest: { path: '/v2/models/simple/infer', body: '{"inputs": [{"name": "INPUT0",' },
    grpc: 'protobuf framing, not JSON',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['malformed JSON'],
  },
  {
    name: 'Inference-Header-Content-Length is not a number',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'inference-header-content-length': 'abc' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'REST header',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['Inference-Header-Content-Length', 'abc'],
  },
  {
    name: 'Inference-Header-Content-Length is negative',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'inference-header-content-length': '-5' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'REST header',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['Inference-Header-Content-Length', '-5'],
  },
  {
    name: 'Inference-Header-Content-Length larger than the body',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'inference-header-content-length': '99999999999' },
      body: JSON.stringify({ inputs: GOOD_SIMPLE }),
    },
    grpc: 'REST header',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['Inference-Header-Content-Length', '99999999999', 'larger than the body'],
  },
  {
    name: 'unsupported Content-Type',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      headers: { 'content-type': 'application/xml' },
      body: '<inputs/>',
    },
    grpc: 'REST header',
    http: 415,
    code: status.INVALID_ARGUMENT,
    mentions: ['unsupported content type', 'application/xml'],
  },
  {
    name: 'JSON nested deeper than max_json_depth in data',
    model: 'simple',
    rest: {
      path: '/v2/models/simple/infer',
      body: `{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"INT32","data":${nested(101)}}]}`,
    },
    grpc: 'protobuf framing, not JSON',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['deeper than the limit of 100'],
  },
  {
    name: 'JSON nested deeper than max_json_depth in the repository index body',
    model: 'simple',
    rest: { path: '/v2/repository/index', body: `{"ready":${nested(101)}}` },
    grpc: 'protobuf framing, not JSON',
    http: 400,
    code: status.INVALID_ARGUMENT,
    mentions: ['deeper than the limit of 100'],
  },
];

/** Writes raw bytes to the HTTP port and collects everything until the server closes (bounded). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolveExchange, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      // Only bounds a hung exchange; how fast the server answers depends on the machine.
      reject(new Error(`no close within 60 s; got: ${reply.slice(0, 200)}`));
    }, 60_000);
    socket.on('connect', () => socket.end(request));
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolveExchange(reply);
    });
  });
}

function binaryBody(inputs: object[], binary: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify({ inputs }));
  return Object.assign(Buffer.concat([header, binary]), { headerLength: header.length });
}

function restRequestFor(c: Case): RestRequest {
  if (typeof c.rest === 'object') return c.rest;
  const model = c.inferModel ?? c.model;
  const versionPart = c.version === undefined ? '' : `/versions/${c.version}`;
  return {
    path: `/v2/models/${model}${versionPart}/infer`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputs: c.inputs,
      ...(c.outputs === undefined ? {} : { outputs: c.outputs.map((name) => ({ name })) }),
    }),
  };
}

function grpcRequestFor(c: Case): GrpcRequest {
  if (typeof c.grpc === 'object') return c.grpc;
  return {
    method: 'ModelInfer',
    request: {
      model_name: c.inferModel ?? c.model,
      model_version: c.version ?? '',
      inputs: (c.inputs ?? []).map(grpcTensor),
      outputs: (c.outputs ?? []).map((name) => ({ name })),
    },
  };
}

async function sendRest(httpUrl: string, req: RestRequest): Promise<Response> {
  const headers: Record<string, string> = { ...req.headers };
  const body = req.body;
  // The binary extension needs the JSON header's length; binaryBody() records it.
  if (Buffer.isBuffer(body) && 'headerLength' in body) {
    headers['inference-header-content-length'] = String(
      (body as Buffer & { headerLength: number }).headerLength,
    );
  }
  return fetch(`${httpUrl}${req.path}`, {
    method: req.method ?? 'POST',
    headers,
    ...(body === undefined
      ? {}
      : { body: new Uint8Array(body instanceof Buffer ? body : Buffer.from(body)) }),
    signal: AbortSignal.timeout(10_000),
  });
}

void describe('bad input on REST and gRPC', () => {
  let server: ServerProcess;
  let client: GrpcTestClient;
  let parent: string;
  let stopping = false;
  const restMessages = new Map<string, string>();
  const grpcMessages = new Map<string, string>();

  before(async () => {
    // repo/ is served; outside/ is a sibling holding a valid model that a traversal would reach.
    parent = await mkdtemp(join(tmpdir(), 'tessera-bad-input-'));
    const repo = join(parent, 'repo');
    await mkdir(repo);
    for (const folder of [
      'examples/models/simple',
      'examples/models/iris',
      'test/fixtures/models/strings',
      'test/fixtures/models/broken',
    ]) {
      await cp(join(REPO_ROOT, folder), join(repo, folder.split('/').pop() ?? ''), {
        recursive: true,
      });
    }
    await cp(join(REPO_ROOT, 'examples/models/simple'), join(parent, 'outside'), {
      recursive: true,
    });
    // A model inside the repository whose relative uri climbs out of it.
    await mkdir(join(repo, 'escape'));
    await writeFile(
      join(repo, 'escape', 'model-settings.json'),
      JSON.stringify({
        name: 'escape',
        implementation: 'onnx',
        parameters: { uri: '../../outside/model.onnx' },
      }),
    );
    await writeFile(
      join(parent, 'outside', 'model-settings.json'),
      JSON.stringify({
        name: 'outside',
        implementation: 'onnx',
        parameters: { uri: './model.onnx' },
      }),
    );
    server = await startServer({ folder: repo });
    // A crash mid-suite fails every later case; say so once, with the last log lines.
    server.child.once('exit', (code, signal) => {
      if (!stopping)
        console.error(
          `server exited early (code ${code}, signal ${signal}):`,
          JSON.stringify(server.logs.slice(-8)),
        );
    });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    stopping = true;
    const code = await server.stop();
    await rm(parent, { recursive: true, force: true });
    assert.equal(code, 0, 'server exits 0 on SIGTERM');
  });

  for (const c of cases) {
    if (typeof c.rest !== 'string') {
      void it(`REST: ${c.name} → ${c.http}`, async () => {
        const response = await sendRest(server.httpUrl, restRequestFor(c));
        restMessages.set(
          c.name,
          await assertRestError(response, c.http, c.restMentions ?? c.mentions),
        );
        await assertRestServes(server.httpUrl, c.model);
      });
    }
    if (typeof c.grpc !== 'string') {
      void it(`gRPC: ${c.name} → ${status[c.code]}`, async () => {
        const req = grpcRequestFor(c);
        const details = await assertGrpcError(
          client.call(
            req.method,
            req.request,
            req.service === undefined ? {} : { service: req.service },
          ),
          c.code,
          c.grpcMentions ?? c.mentions,
        );
        grpcMessages.set(c.name, details);
        await assertGrpcServes(client, c.model);
      });
    }
  }

  void it('REST and gRPC give the same message for the same request (shared core validation)', () => {
    const shared = cases.filter(
      (c) => c.rest === undefined && c.grpc === undefined && c.differs === undefined,
    );
    assert.ok(
      shared.length >= 12,
      `${shared.length} cases send the same request on both protocols`,
    );
    for (const c of shared) {
      assert.equal(grpcMessages.get(c.name), restMessages.get(c.name), c.name);
    }
  });

  void it('REST: nested data exactly at max_json_depth is served', async () => {
    const deep = `${'['.repeat(96)}[${SEQ.join(',')}]${']'.repeat(96)}`;
    const body = `{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":${deep}},${JSON.stringify(int32('INPUT1', ONES))}]}`;
    const response = await sendRest(server.httpUrl, { path: '/v2/models/simple/infer', body });
    assert.equal(response.status, 200, await response.clone().text());
    const out = (await response.json()) as { outputs: { name: string; data: number[] }[] };
    assert.deepEqual(
      out.outputs.find((o) => o.name === 'OUTPUT0')?.data,
      SEQ.map((v) => v + 1),
    );
  });

  // Requests the HTTP parser itself rejects never reach a route; their answer must keep the contract.
  const malformed = 'malformed HTTP request';
  for (const [name, raw, code, mention] of [
    [
      'a header line without a colon',
      'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n',
      400,
      malformed,
    ],
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, malformed],
    [
      'both Content-Length and Transfer-Encoding',
      'POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      malformed,
    ],
    [
      'headers larger than the parser allows',
      `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`,
      431,
      'too large',
    ],
  ] as const) {
    void it(`REST: malformed HTTP (${name}) → ${code} {"error": ...}`, async () => {
      const reply = await rawExchange(server.ports.http, raw);
      const split = reply.indexOf('\r\n\r\n');
      const statusLine = reply.slice(0, reply.indexOf('\r\n'));
      const body = split < 0 ? '' : reply.slice(split + 4);
      assert.match(statusLine, new RegExp(`^HTTP/1\\.1 ${code} `), `reply: ${reply.slice(0, 300)}`);
      const headers = reply.slice(0, split);
      await assertRestError(
        new Response(body, {
          status: code,
          headers: { 'content-type': /content-type: *([^\r]+)/i.exec(headers)?.[1] ?? '' },
        }),
        code,
        [mention],
      );
      await assertRestServes(server.httpUrl, 'simple');
    });
  }

  // A7: zero-size tensors are not bad input; they must give empty outputs and never a crash.
  void it('REST: zero-size tensors [0,16] → 200 with empty outputs', async () => {
    const response = await sendRest(server.httpUrl, {
      path: '/v2/models/simple/infer',
      body: JSON.stringify({
        inputs: [int32('INPUT0', [], [0, 16]), int32('INPUT1', [], [0, 16])],
      }),
    });
    const body = (await response.json()) as { outputs: { shape: number[]; data: unknown[] }[] };
    assert.equal(response.status, 200);
    assert.deepEqual(
      body.outputs.map((o) => [o.shape, o.data]),
      [
        [[0, 16], []],
        [[0, 16], []],
      ],
    );
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('gRPC: zero-size raw tensors [0,16] → OK with empty outputs', async () => {
    const response = await client.call<{
      outputs: { shape: string[] }[];
      raw_output_contents: Buffer[];
    }>('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [0, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [0, 16] },
      ],
      raw_input_contents: [Buffer.alloc(0), Buffer.alloc(0)],
    });
    assert.deepEqual(
      response.outputs.map((o) => o.shape.map(Number)),
      [
        [0, 16],
        [0, 16],
      ],
    );
    assert.deepEqual(
      response.raw_output_contents.map((b) => b.length),
      [0, 0],
    );
    await assertGrpcServes(client, 'simple');
  });

  void it('every case runs on at least one protocol, and says why when it skips one', () => {
    for (const c of cases) {
      assert.ok(typeof c.rest !== 'string' || typeof c.grpc !== 'string', c.name);
    }
    const both = cases.filter(
      (c) => typeof c.rest !== 'string' && typeof c.grpc !== 'string',
    ).length;
    assert.ok(both >= 20, `most cases run on both protocols (${both})`);
  });

  void it('nothing outside the repository was loaded by the traversal attempts', async () => {
    const index = await fetch(`${server.httpUrl}/v2/repository/index`, { method: 'POST' });
    assert.equal(index.status, 200);
    const entries = (await index.json()) as { name: string; state: string }[];
    assert.deepEqual([...new Set(entries.map((e) => e.name))].sort(), [
      'broken',
      'escape',
      'iris',
      'simple',
      'strings',
    ]);
    assert.equal(
      entries.find((e) => e.name === 'escape')?.state,
      'UNAVAILABLE',
      'the escaping model never loaded',
    );
    // The sibling model is unknown by its own name too: the repository never looks outside.
    const load = await fetch(`${server.httpUrl}/v2/repository/models/outside/load`, {
      method: 'POST',
    });
    await assertRestError(load, 404, ["model: 'outside'"]);
    await assertGrpcError(client.call('ModelReady', { name: 'outside' }), status.NOT_FOUND, [
      "model: 'outside'",
    ]);
    const logs = JSON.stringify(server.logs);
    assert.ok(
      !logs.includes(join(parent, 'outside')),
      'the server never touched the sibling folder',
    );
  });
});
