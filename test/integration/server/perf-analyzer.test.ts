// Triton's perf_analyzer (test/peers/perf-analyzer.peer.mjs) against the server over HTTP
// (binary tensors, its default) and gRPC (raw contents): it needs the model configuration
// extension to start and reads the statistics extension for its server-side figures, so a short
// run that completes and reports server counts proves both. Windows are counted in requests,
// not time, and any spread is accepted as stable: nothing here depends on the machine's speed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { perfAnalyzeSimple, serverCounts } from '../../support/perf-analyzer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

void describe('perf_analyzer', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  for (const protocol of ['http', 'grpc'] as const) {
    void it(`measures the simple model over ${protocol} with server-side statistics`, async () => {
      const port = protocol === 'http' ? server.ports.http : server.ports.grpc;
      const report = await perfAnalyzeSimple({
        protocol,
        url: `127.0.0.1:${port}`,
        concurrency: 2,
        requests: 25,
      });
      assert.match(report, /Concurrency: 2, throughput: [\d.]+ infer\/sec/, report);
      assert.doesNotMatch(report, /error|failed/i, report);
      const counts = serverCounts(report);
      // The statistics extension answered: the server counted what perf_analyzer sent.
      assert.ok(counts.success >= 25, `server-side successful requests: ${report}`);
      assert.equal(counts.inference, counts.success, 'one inference per request (no batching)');
    });
  }
});
