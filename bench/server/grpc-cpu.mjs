// Server CPU time per request (utime + stime of the server's process tree from /proc, all threads)
// for REST binary and gRPC raw on `simple`, under Triton's perf_analyzer. Wall-clock throughput is
// noisy on a shared machine; CPU-µs per request is not (much), because it only counts the cycles
// the server itself spent. Requests are counted by the server (Tessera: the model's statistics;
// the prototypes in bench/grpc-proto: their /count route), so perf_analyzer's warm-up and extra
// trials are included exactly.
//   npm run build && node bench/server/grpc-cpu.mjs [--target tessera] [--protocols http,grpc]
//     [--rounds 3] [--requests 3000] [--concurrency 1,8] [--node-options='--cpu-prof ...']
// Targets: `tessera` (server/dist), `grpc-js` and `connect` (bench/grpc-proto/*.mjs, gRPC only).
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { provision } from '../../test/peers/perf-analyzer.peer.mjs';
import { freePort, startPinned, treeCpuSeconds, waitReady } from './servers.mjs';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'tessera' },
    protocols: { type: 'string', default: 'http,grpc' },
    rounds: { type: 'string', default: '3' },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '1,8' },
    'node-options': { type: 'string', default: '' },
  },
});
const protocols = values.protocols.split(',');
const concurrencies = values.concurrency.split(',').map(Number);
const nodeOptions = values['node-options'].split(' ').filter(Boolean);

/** Starts the target; returns its handle, ports and a function counting served ModelInfer calls. */
async function startTarget(target) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const args =
    target === 'tessera'
      ? [
          ...nodeOptions,
          join(root, 'server/dist/cli.js'),
          'start',
          join(root, 'examples/models'),
          ...['--http-port', String(http), '--grpc-port', String(grpc)],
          ...['--metrics-port', String(metrics), '--host', '127.0.0.1'],
        ]
      : [
          ...nodeOptions,
          join(root, 'bench/grpc-proto', `${target}-simple.mjs`),
          String(grpc),
          String(http),
        ];
  const handle = startPinned({
    name: target,
    cpu: process.env.BENCH_SERVER_CPU ?? '0',
    cmd: process.execPath,
    args,
    cwd: root,
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
    logFile: join(tmpdir(), `grpc-cpu-${target}-${process.pid}.log`),
  });
  const readyUrl =
    target === 'tessera'
      ? `http://127.0.0.1:${http}/v2/health/ready`
      : `http://127.0.0.1:${http}/count`;
  await waitReady(handle, readyUrl);
  const count = async () => {
    if (target !== 'tessera') return Number(await (await fetch(readyUrl)).text());
    const stats = await (await fetch(`http://127.0.0.1:${http}/v2/models/simple/stats`)).json();
    return Number(stats.model_stats[0].inference_stats.success.count);
  };
  return { handle, http, grpc, count };
}

const env = await provision((line) => process.stderr.write(`[perf-analyzer] ${line}\n`));
const target = await startTarget(values.target);

/** One perf_analyzer run; returns infer/s, p99 (ms) and the server's CPU-µs per request. */
async function measure(protocol, concurrency) {
  const url = `127.0.0.1:${protocol === 'http' ? target.http : target.grpc}`;
  const [count0, cpu0] = [await target.count(), treeCpuSeconds(target.handle.pid)];
  const { stdout } = await run(
    'taskset',
    [
      ...['-c', process.env.BENCH_CLIENT_CPU ?? '1', env.TESSERA_PERF_ANALYZER],
      ...['-m', 'simple', '-i', protocol, '-u', url],
      ...['--shape', 'INPUT0:1,16', '--shape', 'INPUT1:1,16'],
      ...['--concurrency-range', String(concurrency)],
      ...['--measurement-mode', 'count_windows'],
      ...['--measurement-request-count', values.requests],
      ...['--stability-percentage', '1000', '--max-trials', '3'],
    ],
    { env: { ...process.env, LD_LIBRARY_PATH: env.TESSERA_PERF_ANALYZER_LIBS }, timeout: 300_000 },
  );
  const cpu1 = treeCpuSeconds(target.handle.pid);
  const served = (await target.count()) - count0;
  const number = (re) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    rate: number(/Throughput: ([\d.]+) infer\/sec/),
    p99: number(/p99 latency: (\d+) usec/) / 1000,
    served,
    cpuUs: ((cpu1 - cpu0) / served) * 1e6,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
try {
  for (const concurrency of concurrencies) {
    const got = Object.fromEntries(protocols.map((p) => [p, []]));
    for (let round = 0; round < Number(values.rounds); round++) {
      const order = round % 2 === 0 ? protocols : [...protocols].reverse();
      for (const protocol of order) got[protocol].push(await measure(protocol, concurrency));
    }
    for (const protocol of protocols) {
      const list = got[protocol];
      const cpu = list.map((r) => r.cpuUs);
      rows.push(
        `| ${values.target} | ${protocol} | ${concurrency} | **${median(cpu).toFixed(0)}** (${Math.min(...cpu).toFixed(0)}–${Math.max(...cpu).toFixed(0)}) | ${median(list.map((r) => r.rate)).toFixed(0)} | ${median(list.map((r) => r.p99)).toFixed(2)} | ${list.reduce((a, r) => a + r.served, 0)} |`,
      );
    }
  }
  console.log(
    [
      '| target | protocol | concurrency | server CPU-µs / request, median (min–max) | infer/s | p99 ms | requests |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
} finally {
  // SIGINT lets `--cpu-prof` write its profile (SIGTERM would skip it in the prototypes).
  target.handle.child.kill(process.env.BENCH_STOP_SIGNAL ?? 'SIGTERM');
}
