// Triton's perf_analyzer (test/peers/perf-analyzer.peer.mjs) against the server over HTTP
// (binary tensors, its default) and gRPC (raw contents): it needs the model configuration
// extension to start and reads the statistics extension for its server-side figures, so a short
// run that completes and reports server counts proves both. Windows are counted in requests,
// not time, and any spread is accepted as stable: nothing here depends on the machine's speed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const run = promisify(execFile);

function perfAnalyzer(): { binary: string; libs: string } {
  const binary = process.env['TESSERA_PERF_ANALYZER'];
  const libs = process.env['TESSERA_PERF_ANALYZER_LIBS'];
  assert.ok(
    binary && libs,
    'TESSERA_PERF_ANALYZER is not set: run through scripts/run-tests.mjs, which provisions it',
  );
  return { binary, libs };
}

async function measure(protocol: 'http' | 'grpc', url: string): Promise<string> {
  const { binary, libs } = perfAnalyzer();
  const { stdout, stderr } = await run(
    binary,
    [
      '-m',
      'simple',
      '-i',
      protocol,
      '-u',
      url,
      '--shape',
      'INPUT0:1,16',
      '--shape',
      'INPUT1:1,16',
      '--concurrency-range',
      '2',
      '--measurement-mode',
      'count_windows',
      '--measurement-request-count',
      '25',
      '--stability-percentage',
      '1000',
      '--max-trials',
      '3',
    ],
    {
      env: { ...process.env, LD_LIBRARY_PATH: libs },
      timeout: 180_000,
      maxBuffer: 4 * 1024 * 1024,
    },
  );
  return stdout + stderr;
}

/** perf_analyzer's "Server:" section counts, read from its report. */
function serverCounts(report: string): { inference: number; success: number } {
  const server = report.slice(report.indexOf('Server:'));
  const inference = Number(/Inference count: (\d+)/.exec(server)?.[1] ?? NaN);
  const success = Number(/Successful request count: (\d+)/.exec(server)?.[1] ?? NaN);
  return { inference, success };
}

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
      const report = await measure(protocol, `127.0.0.1:${port}`);
      assert.match(report, /Concurrency: 2, throughput: [\d.]+ infer\/sec/, report);
      assert.doesNotMatch(report, /error|failed/i, report);
      const counts = serverCounts(report);
      // The statistics extension answered: the server counted what perf_analyzer sent.
      assert.ok(counts.success >= 25, `server-side successful requests: ${report}`);
      assert.equal(counts.inference, counts.success, 'one inference per request (no batching)');
    });
  }
});
