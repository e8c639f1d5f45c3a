// gRPC against REST on the same server, measured with one C++ load generator for both: Triton's
// perf_analyzer (test/peers/perf-analyzer.peer.mjs provisions it), `simple` ([1,16] INT32 x2),
// HTTP with the binary tensor extension and gRPC with raw contents, synchronous closed-loop
// clients at each concurrency. The server runs on CPU 0 and perf_analyzer on CPU 1 (taskset);
// rounds rotate the protocol order and ratios are taken per round.
//   npm run build && node bench/server/grpc-vs-rest.mjs [--rounds 3] [--requests 6000]
// Why not the grpc-js client of bench/server/grpc-load.mjs: a Node client saturates its own core
// long before the server does, which made gRPC look a third of REST (bench/RESULTS.md).
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { provision } from '../../test/peers/perf-analyzer.peer.mjs';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '6000' },
    concurrency: { type: 'string', default: '1,8,16' },
  },
});
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const concurrencies = values.concurrency.split(',').map(Number);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not ready at ${url}`);
}

const env = await provision((line) => process.stderr.write(`[perf-analyzer] ${line}\n`));
const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
const server = spawn(
  'taskset',
  [
    '-c',
    '0',
    process.execPath,
    join(root, 'server/dist/cli.js'),
    'start',
    join(root, 'examples/models'),
    ...['--http-port', String(http), '--grpc-port', String(grpc)],
    ...['--metrics-port', String(metrics), '--host', '127.0.0.1'],
  ],
  { stdio: 'ignore', env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' } },
);
try {
  await waitReady(`http://127.0.0.1:${http}/v2/health/ready`);
  /** One perf_analyzer run: infer/s and p50/p99 in microseconds. */
  const measure = async (protocol, concurrency) => {
    const url = `127.0.0.1:${protocol === 'http' ? http : grpc}`;
    const { stdout } = await run(
      'taskset',
      [
        ...['-c', '1', env.TESSERA_PERF_ANALYZER],
        ...['-m', 'simple', '-i', protocol, '-u', url],
        ...['--shape', 'INPUT0:1,16', '--shape', 'INPUT1:1,16'],
        ...['--concurrency-range', String(concurrency)],
        ...['--measurement-mode', 'count_windows'],
        ...['--measurement-request-count', String(requests)],
        ...['--stability-percentage', '1000', '--max-trials', '3'],
      ],
      {
        env: { ...process.env, LD_LIBRARY_PATH: env.TESSERA_PERF_ANALYZER_LIBS },
        timeout: 300_000,
      },
    );
    const number = (re) => Number(re.exec(stdout)?.[1] ?? NaN);
    return {
      rate: number(/Throughput: ([\d.]+) infer\/sec/),
      p50: number(/p50 latency: (\d+) usec/),
      p99: number(/p99 latency: (\d+) usec/),
    };
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = [];
  for (const concurrency of concurrencies) {
    const results = { http: [], grpc: [], ratio: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ['http', 'grpc'] : ['grpc', 'http'];
      const got = {};
      for (const protocol of order) got[protocol] = await measure(protocol, concurrency);
      results.http.push(got.http);
      results.grpc.push(got.grpc);
      results.ratio.push(got.grpc.rate / got.http.rate);
    }
    const summary = (list) =>
      `${median(list.map((r) => r.rate)).toFixed(0)} | ${(median(list.map((r) => r.p50)) / 1000).toFixed(3)} / ${(median(list.map((r) => r.p99)) / 1000).toFixed(3)}`;
    const ratios = results.ratio;
    rows.push(
      `| ${concurrency} | ${summary(results.http)} | ${summary(results.grpc)} | **${median(ratios).toFixed(2)}** (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`,
    );
  }
  console.log(
    [
      '| concurrency | REST infer/s | REST p50 / p99 ms | gRPC infer/s | gRPC p50 / p99 ms | gRPC / REST, median (min–max) |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
} finally {
  server.kill('SIGTERM');
}
