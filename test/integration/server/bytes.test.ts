// BYTES tensors through the official tritonclient (HTTP binary extension, HTTP JSON, gRPC) against
// the `strings` fixture (BYTES input -> Identity -> BYTES output). What the ONNX runtime can carry
// (UTF-8 text, empty elements, a byte-order mark, control characters) comes back byte for byte;
// what it cannot (a NUL byte, which onnxruntime-node's string tensors end at, and bytes that are
// not UTF-8) is refused with a clear 400 / INVALID_ARGUMENT instead of being silently cut short.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertCleanMessage } from '../../support/error-checks.js';
import { runBytesRoundTrip, type BytesResult } from '../../support/python-peer.js';
import { copyModels, startServer, type ServerProcess } from '../../support/server-process.js';

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const sixteen = (element: Uint8Array): Uint8Array[] => Array.from({ length: 16 }, () => element);

const EXACT = [
  '',
  'hello',
  'é😀',
  '\ufeffbom',
  ' spaced ',
  '\x01\x7f',
  'x'.repeat(300),
  '\t\n\r',
  '""',
  '\\',
  'ü',
  '日本語',
  '',
  'a',
  '\u2028',
  'end',
].map(utf8);

const CASES = {
  exact: EXACT,
  nul: sixteen(utf8('he\x00llo')),
  'not-utf8': sixteen(Uint8Array.from([0x68, 0xff, 0xfe])),
};

const hex = (elements: readonly Uint8Array[]): string[] =>
  elements.map((e) => Buffer.from(e).toString('hex'));

void describe('BYTES through tritonclient', () => {
  let server: ServerProcess;
  let models: Awaited<ReturnType<typeof copyModels>>;
  let results: BytesResult[] = [];

  const result = (name: string, path: BytesResult['path']): BytesResult => {
    const found = results.find((r) => r.case === name && r.path === path);
    assert.ok(found, `${name} was sent over ${path}`);
    return found;
  };

  before(async () => {
    models = await copyModels('test/fixtures/models/strings');
    server = await startServer({ folder: models.dir });
    results = await runBytesRoundTrip({
      http: `127.0.0.1:${server.ports.http}`,
      grpc: server.grpcAddress,
      model: 'strings',
      cases: CASES,
    });
  });

  after(async () => {
    await server.stop();
    await models.cleanup();
  });

  for (const path of ['http.binary', 'http.json', 'grpc'] as const) {
    void it(`returns text, empty elements and a BOM exactly over ${path}`, () => {
      const r = result('exact', path);
      assert.equal(r.error, undefined, `no error: ${r.error ?? ''}`);
      assert.deepEqual(r.values, hex(EXACT));
    });

    void it(`refuses elements with a NUL byte over ${path} instead of truncating them`, () => {
      const r = result('nul', path);
      assert.equal(r.values, undefined, 'no (truncated) values come back');
      assert.ok(r.error !== undefined);
      assertCleanMessage(r.error, ["input 'input'", 'BYTES element 0', 'NUL byte']);
      assert.equal(r.status, path === 'grpc' ? 'StatusCode.INVALID_ARGUMENT' : '400');
    });
  }

  for (const path of ['http.binary', 'grpc'] as const) {
    void it(`refuses bytes that are not UTF-8 over ${path}`, () => {
      const r = result('not-utf8', path);
      assert.equal(r.values, undefined, 'no (altered) values come back');
      assert.ok(r.error !== undefined);
      assertCleanMessage(r.error, ["input 'input'", 'not valid UTF-8']);
      assert.equal(r.status, path === 'grpc' ? 'StatusCode.INVALID_ARGUMENT' : '400');
    });
  }
});
