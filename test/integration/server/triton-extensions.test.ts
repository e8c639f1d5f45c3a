// Triton's extensions through the official tritonclient (test/peers/python/triton_extensions.py):
// model configuration, statistics, repository load parameters and raw gRPC outputs on both
// protocols; then Triton's own example clients (simple_http_infer_client.py,
// simple_grpc_infer_client.py, copied unchanged from triton-inference-server/client) run to their
// end against the `simple` example model.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  runTritonExample,
  runTritonExtensions,
  type ConformanceCheck,
} from '../../support/python-peer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

void describe("Triton's extensions through tritonclient", () => {
  let server: ServerProcess;
  let checks: ConformanceCheck[] = [];

  before(async () => {
    server = await startServer();
    checks = await runTritonExtensions({
      http: `127.0.0.1:${server.ports.http}`,
      grpc: `127.0.0.1:${server.ports.grpc}`,
    });
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  void it('ran every group of checks on both protocols', () => {
    const names = new Set(checks.map((c) => c.name));
    for (const expected of [
      'http.config.simple',
      'grpc.config.simple',
      'stats.counts_change_by_requests',
      'stats.all_models',
      'http.load.config',
      'grpc.load.config_round_trip',
      'http.load.invalid_config.unknown_field',
      'grpc.load.invalid_config.unknown_field',
      'http.load.files',
      'grpc.load.files',
      'http.load.invalid_files.traversal',
      'grpc.load.invalid_files.traversal',
      'grpc.identity.as_numpy.BYTES',
      'grpc.identity.as_numpy.UINT64',
      'grpc.raw_outputs.typed_request',
      'cleanup.iris_ready',
    ]) {
      assert.ok(names.has(expected), `check ${expected} ran`);
    }
  });

  void it('passes every check', () => {
    const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    assert.deepEqual(failed, []);
    assert.ok(checks.length >= 70, `expected at least 70 checks, got ${checks.length}`);
  });

  void it("runs Triton's simple_http_infer_client.py to its end", async () => {
    const run = await runTritonExample(
      'simple_http_infer_client.py',
      `127.0.0.1:${server.ports.http}`,
    );
    assert.equal(run.code, 0, `exit ${String(run.code)}\n${run.stdout.slice(-2000)}${run.stderr}`);
    // Its last step: an unknown model must answer Triton's wording.
    assert.match(run.stdout, /Request for unknown model: 'wrong_model_name' is not found/);
    assert.doesNotMatch(run.stdout, /FAILED|error/i);
  });

  void it("runs Triton's simple_grpc_infer_client.py to its end", async () => {
    const run = await runTritonExample(
      'simple_grpc_infer_client.py',
      `127.0.0.1:${server.ports.grpc}`,
    );
    assert.equal(run.code, 0, `exit ${String(run.code)}\n${run.stdout.slice(-2000)}${run.stderr}`);
    assert.match(run.stdout, /PASS: infer/);
  });
});
