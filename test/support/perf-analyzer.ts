// Runs Triton's perf_analyzer (test/peers/perf-analyzer.peer.mjs provisions TESSERA_PERF_ANALYZER
// and the folder of its libraries) on the `simple` model. Windows are counted in requests, not
// time, and any spread is accepted as stable: nothing depends on the machine's speed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** perf_analyzer's report (stdout and stderr) for `simple` at one concurrency. */
export async function perfAnalyzeSimple(options: {
  protocol: 'http' | 'grpc';
  url: string;
  concurrency: number;
  requests: number;
  extraArgs?: readonly string[];
}): Promise<string> {
  const binary = process.env['TESSERA_PERF_ANALYZER'];
  const libs = process.env['TESSERA_PERF_ANALYZER_LIBS'];
  assert.ok(
    binary && libs,
    'TESSERA_PERF_ANALYZER is not set: run through scripts/run-tests.mjs, which provisions it',
  );
  const { stdout, stderr } = await run(
    binary,
    [
      ...['-m', 'simple', '-i', options.protocol, '-u', options.url],
      ...['--shape', 'INPUT0:1,16', '--shape', 'INPUT1:1,16'],
      ...(options.extraArgs ?? []),
      ...['--concurrency-range', String(options.concurrency)],
      ...['--measurement-mode', 'count_windows'],
      ...['--measurement-request-count', String(options.requests)],
      // The tests check that the run completes and what the server counted, never timing: accept
      // any spread between windows, which a loaded machine can make exceed even 1000 %.
      ...['--stability-percentage', '100000', '--max-trials', '3'],
    ],
    { env: { ...process.env, LD_LIBRARY_PATH: libs }, timeout: 180_000, maxBuffer: 4 << 20 },
  );
  return stdout + stderr;
}

/** perf_analyzer's "Server:" section counts, read from its report. */
export function serverCounts(report: string): { inference: number; success: number } {
  const server = report.slice(report.indexOf('Server:'));
  const inference = Number(/Inference count: (\d+)/.exec(server)?.[1] ?? NaN);
  const success = Number(/Successful request count: (\d+)/.exec(server)?.[1] ?? NaN);
  return { inference, success };
}
