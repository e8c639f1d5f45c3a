// The settings every server benchmark reads from its environment: a number within bounds, and
// the shared timing and CPU-pinning settings (BENCH_SECONDS, BENCH_ROUNDS, BENCH_WARMUP_SECONDS,
// BENCH_SERVER_CPU, BENCH_CLIENT_CPU).
import { run } from '../../test/peers/exec.mjs';

/** A numeric environment setting in [min, max], or `fallback` when unset. */
export function envNumber(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name} must be a number in [${min}, ${max}]`);
  return n;
}

/** Seconds per measurement, rounds, warm-up seconds, and the server's and the load's CPUs. */
export function timingConfig() {
  return {
    seconds: envNumber('BENCH_SECONDS', 10, 1, 600),
    rounds: envNumber('BENCH_ROUNDS', 3, 1, 20),
    warmup: envNumber('BENCH_WARMUP_SECONDS', 5, 0, 600),
    serverCpu: envNumber('BENCH_SERVER_CPU', 0, 0, 1023),
    clientCpu: envNumber('BENCH_CLIENT_CPU', 1, 0, 1023),
  };
}

/**
 * Checks there are two CPUs to pin to and pins this harness (and the load generators it starts)
 * to the client CPU; `nproc` is read by the caller before any pinning.
 */
export async function pinHarness(cfg, nproc) {
  if (nproc < 2 || cfg.serverCpu === cfg.clientCpu)
    throw new Error('needs two CPUs: servers on BENCH_SERVER_CPU, load on BENCH_CLIENT_CPU');
  await run('taskset', ['-cp', String(cfg.clientCpu), String(process.pid)], { timeoutMs: 10_000 });
}

/** Builds the server (tsc -b server), so a benchmark always runs the checkout's code. */
export async function buildServer(root, log) {
  log('building the server (tsc -b server)');
  await run('npx', ['tsc', '-b', 'server'], { cwd: root, timeoutMs: 300_000 });
}
