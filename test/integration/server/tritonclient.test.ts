// The official Python V2 clients (tritonclient.http and tritonclient.grpc) against the real server:
// health, metadata, JSON/binary/raw inference compared with Python onnxruntime on the same
// inputs, and the repository index/load/unload cycle. The checks live in
// test/peers/python/triton_conformance.py; every check must pass.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';

const run = promisify(execFile);

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

void describe('tritonclient conformance', () => {
  let server: ServerProcess;
  let checks: Check[] = [];

  before(async () => {
    const python = process.env['TESSERA_PYTHON'];
    assert.ok(
      python,
      'TESSERA_PYTHON is not set: run through scripts/run-tests.mjs, which provisions it',
    );
    server = await startServer();
    const { stdout } = await run(
      python,
      [
        'test/peers/python/triton_conformance.py',
        '--http',
        `127.0.0.1:${server.ports.http}`,
        '--grpc',
        `127.0.0.1:${server.ports.grpc}`,
        '--models-dir',
        'examples/models',
      ],
      { cwd: REPO_ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    checks = (JSON.parse(stdout) as { checks: Check[] }).checks;
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  void it('ran the whole conformance suite on both protocols', () => {
    const names = new Set(checks.map((c) => c.name));
    for (const expected of [
      'http.infer.simple.binary',
      'http.infer.simple.json',
      'http.infer.iris.binary',
      'grpc.infer.simple',
      'grpc.infer.iris',
      'http.repository_index',
      'grpc.repository_index',
      'http.unload.simple',
      'grpc.load.simple',
      'http.unknown_model.metadata',
      'grpc.unknown_model.metadata',
    ]) {
      assert.ok(names.has(expected), `check ${expected} ran`);
    }
  });

  void it('passes every check', () => {
    const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(failed, []);
    assert.ok(checks.length >= 30, `expected at least 30 checks, got ${checks.length}`);
  });
});
