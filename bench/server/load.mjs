// Load generators pinned to the client CPU: wrk for HTTP (one Lua script per payload, results
// printed by its done() hook) and grpc-load.mjs for gRPC. Each returns
// { requests, errors, errorDetail, seconds, rps, p50_ms, p99_ms, mean_ms }.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/peers/exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** wrk's done() hook: one BENCH_JSON line with the counts and latency percentiles. */
const DONE_HOOK = [
  'done = function(summary, latency, requests)',
  '  local e = summary.errors',
  '  io.write(string.format(\'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\\n\',',
  '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
  '    latency:percentile(50), latency:percentile(99), latency.mean))',
  'end',
  '',
];

/** Writes a wrk Lua script that POSTs the bytes of `bodyFile` with `headers`. */
export function writeWrkScript(path, bodyFile, headers) {
  const lines = [
    'wrk.method = "POST"',
    `local f = assert(io.open(${JSON.stringify(bodyFile)}, "rb"))`,
    'wrk.body = f:read("*a")',
    'f:close()',
    ...Object.entries(headers).map(
      ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
    ),
    ...DONE_HOOK,
  ];
  writeFileSync(path, lines.join('\n'));
  return path;
}

/** Writes a wrk Lua script for plain GETs of the URL wrk is given. */
export function writeWrkGetScript(path) {
  writeFileSync(path, ['wrk.method = "GET"', ...DONE_HOOK].join('\n'));
  return path;
}

function parseBenchJson(output, what) {
  const line = output.split('\n').find((l) => l.startsWith('BENCH_JSON '));
  if (!line) throw new Error(`${what} printed no result:\n${output.slice(-2000)}`);
  return JSON.parse(line.slice('BENCH_JSON '.length));
}

/** wrk -t1 -c{concurrency} for `seconds` (whole seconds) against url with the given script. */
export async function runWrk({ wrk, cpu, url, script, concurrency, seconds }) {
  const secs = Math.max(1, Math.round(seconds));
  const args = [
    '-c',
    String(cpu),
    wrk,
    '-t1',
    `-c${concurrency}`,
    `-d${secs}s`,
    '--timeout',
    '5s',
    '-s',
    script,
    url,
  ];
  const out = await run('taskset', args, { timeoutMs: (secs + 60) * 1000 });
  const r = parseBenchJson(out, 'wrk');
  const socketErrors = r.connect + r.read + r.write + r.timeout;
  const seconds_ = r.duration_us / 1e6;
  const ok = r.requests - r.status;
  return {
    requests: ok,
    errors: r.status + socketErrors,
    errorDetail:
      r.status + socketErrors > 0
        ? `non-2xx/3xx ${r.status}, connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}`
        : undefined,
    seconds: seconds_,
    rps: ok / seconds_,
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    mean_ms: r.mean_us / 1000,
  };
}

/** The closed-loop grpc-js client, `concurrency` calls in flight on one channel. */
export async function runGrpc({ cpu, target, requestFile, concurrency, seconds }) {
  const config = JSON.stringify({ target, requestFile, concurrency, seconds });
  const args = ['-c', String(cpu), process.execPath, join(here, 'grpc-load.mjs'), config];
  const out = await run('taskset', args, { timeoutMs: (seconds + 60) * 1000 });
  const r = parseBenchJson(out, 'grpc-load');
  return {
    requests: r.requests,
    errors: r.errors,
    errorDetail: r.errors > 0 ? `${r.errors} failed calls, first: ${r.firstError}` : undefined,
    seconds: r.seconds,
    rps: r.requests / r.seconds,
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    mean_ms: r.mean_us / 1000,
  };
}
