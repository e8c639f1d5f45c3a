#!/usr/bin/env node
// Adaptive batching on a compute-heavier model: `npm run bench:batching`. bench/server/make_mlp.py
// writes one ONNX MLP twice, as `mlp` (batching off) and `mlp-batched` (max_batch_size /
// max_batch_time set); one Tessera server (defaults otherwise) serves both, pinned to one CPU,
// and wrk drives one-row REST JSON requests at c=64 from the other CPU, alternating the two
// models per round so the ratio is paired. Before measuring, both models must return
// onnxruntime's answer for the same row. See bench/server/README.md.
// Environment: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_WARMUP_SECONDS (5), BENCH_SERVER_CPU
// (0), BENCH_CLIENT_CPU (1), BENCH_CONCURRENCY (64), BENCH_BATCH_SIZE (32), BENCH_BATCH_TIME
// (0.002 s), BENCH_WRK (wrk).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/peers/exec.mjs';
import { envNumber, timingConfig, pinHarness, buildServer } from './bench-config.mjs';
import { provision as provisionPython } from '../../test/peers/python.peer.mjs';
import { writeResultsBlock } from '../operator/results-file.ts';
import { runWrk, writeWrkScript } from './load.mjs';
import { findWrk } from './peers.mjs';
import { restJson } from './probe.mjs';
import { median } from './format.mjs';
import { freePort, startPinned, stop, treeCpuSeconds, waitReady } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const NPROC = availableParallelism();

const cfg = {
  ...timingConfig(),
  concurrency: envNumber('BENCH_CONCURRENCY', 64, 1, 1024),
  batchSize: envNumber('BENCH_BATCH_SIZE', 32, 2, 4096),
  batchTime: envNumber('BENCH_BATCH_TIME', 0.002, 0.0001, 1),
};
const log = (m) => console.log(`[bench:batching] ${m}`);
let server;

async function main() {
  await pinHarness(cfg, NPROC);
  const { wrk, version: wrkVersion } = await findWrk();
  const python = await provisionPython((m) => log(`python peer: ${m}`));
  await buildServer(root, log);
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-bench-batching-'));
  try {
    const repo = join(tmp, 'models');
    const made = await run(
      python.TESSERA_PYTHON,
      [join(here, 'make_mlp.py'), '--out', repo, '--batch-size', String(cfg.batchSize)].concat([
        '--batch-time',
        String(cfg.batchTime),
      ]),
      { timeoutMs: 120_000 },
    );
    const reference = JSON.parse(made.trim().split('\n').pop());
    server = await startTessera(tmp, repo);
    await verify(reference);
    const body = join(tmp, 'row.json');
    writeFileSync(body, JSON.stringify(rowRequest(reference.row)));
    const script = writeWrkScript(join(tmp, 'row.lua'), body, {
      'Content-Type': 'application/json',
    });
    const measured = await measure(wrk, script);
    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).trim();
    writeResultsBlock(
      'Adaptive batching',
      'Adaptive batching (ONNX MLP)',
      report(measured, { commit, wrkVersion }),
    );
    log('wrote bench/RESULTS.md, "Adaptive batching (ONNX MLP)"');
    const failed = Object.values(measured).flatMap((rounds) => rounds.filter((r) => r.errors > 0));
    for (const r of failed) log(`FAILED: ${r.errorDetail}`);
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    if (server) await stop(server);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function startTessera(tmp, repo) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const handle = startPinned({
    name: 'tessera',
    cpu: cfg.serverCpu,
    cmd: process.execPath,
    args: [
      join(root, 'server', 'dist', 'cli.js'),
      ...['start', repo, '--host', '127.0.0.1', '--http-port', String(http)],
      ...['--grpc-port', String(grpc), '--metrics-port', String(metrics)],
    ],
    cwd: tmp,
    env: {},
    logFile: join(tmp, 'tessera.log'),
  });
  Object.assign(handle, { http });
  const ready = await waitReady(handle, `http://127.0.0.1:${http}/v2/health/ready`);
  log(`tessera ready in ${ready} ms`);
  return handle;
}

const MODELS = ['mlp', 'mlp-batched'];
const inferUrl = (model) => `http://127.0.0.1:${server.http}/v2/models/${model}/infer`;
const rowRequest = (row) => ({
  inputs: [{ name: 'x', shape: [1, row.length], datatype: 'FP32', data: row }],
});

/** Both folders must answer onnxruntime's y for the reference row (FP32 rounding aside). */
async function verify({ row, y }) {
  for (const model of MODELS) {
    const got = (await restJson(inferUrl(model), rowRequest(row))).outputs[0].data;
    const worst = Math.max(...y.map((v, i) => Math.abs(v - got[i]) / Math.max(1, Math.abs(v))));
    if (got.length !== y.length || !(worst < 1e-4))
      throw new Error(`${model} disagrees with onnxruntime: relative error ${worst}`);
  }
  log(`answer check passed: both models return onnxruntime's ${y.length} outputs`);
}

async function measure(wrk, script) {
  const load = (model, seconds) =>
    runWrk({
      wrk,
      cpu: cfg.clientCpu,
      url: inferUrl(model),
      script,
      concurrency: cfg.concurrency,
      seconds,
    });
  for (const model of MODELS) if (cfg.warmup > 0) await load(model, cfg.warmup);
  const out = Object.fromEntries(MODELS.map((m) => [m, []]));
  for (let round = 0; round < cfg.rounds; round += 1) {
    for (const model of round % 2 === 0 ? MODELS : [...MODELS].reverse()) {
      const cpuBefore = treeCpuSeconds(server.pid);
      const r = await load(model, cfg.seconds);
      r.serverCpuUtil = (treeCpuSeconds(server.pid) - cpuBefore) / r.seconds;
      out[model].push(r);
      log(
        `${model} round ${round + 1}/${cfg.rounds}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50_ms.toFixed(2)} ms, p99 ${r.p99_ms.toFixed(2)} ms, server CPU ${(r.serverCpuUtil * 100).toFixed(0)} %, errors ${r.errors}`,
      );
    }
  }
  return out;
}

function report(measured, facts) {
  const f = (x, d = 0) => x.toFixed(d);
  const off = measured.mlp;
  const on = measured['mlp-batched'];
  const ratios = on.map((r, i) => r.rps / off[i].rps);
  const perCpu = (r) => r.rps / Math.max(r.serverCpuUtil, 1e-9);
  const cpuRatios = on.map((r, i) => perCpu(r) / perCpu(off[i]));
  const med = (list, key) => median(list.map((r) => r[key]));
  const row = (label, list) =>
    `| ${label} | ${f(med(list, 'rps'))} | ${f(med(list, 'p50_ms'), 2)} / ${f(med(list, 'p99_ms'), 2)} | ${f(med(list, 'serverCpuUtil') * 100)} % |`;
  return [
    '### Adaptive batching (ONNX MLP)',
    '',
    `Generated by \`BENCH_SECONDS=${cfg.seconds} BENCH_ROUNDS=${cfg.rounds} BENCH_WARMUP_SECONDS=${cfg.warmup} npm run bench:batching\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} (commit ${facts.commit}); wrk ${facts.wrkVersion}.`,
    '',
    `- Model: bench/server/make_mlp.py's MLP (FP32 [n,1024] → 4096 → 4096 → 16, Gemm + Relu, opset 17), served twice by one Tessera server pinned to one CPU: \`mlp\` without batching and \`mlp-batched\` with \`max_batch_size\` ${cfg.batchSize}, \`max_batch_time\` ${cfg.batchTime} s. Both answer onnxruntime's output for the reference row before any load.`,
    `- Load: wrk -t1 -c${cfg.concurrency} on the other CPU, one-row REST JSON requests; rounds alternate the two models, the ratio is per round.`,
    '',
    '| Model | req/s (median) | p50 / p99 ms | server CPU |',
    '|---|---|---|---|',
    row('`mlp` (batching off)', off),
    row(`\`mlp-batched\` (max_batch_size ${cfg.batchSize})`, on),
    '',
    `Batching on ÷ off: **${f(median(ratios), 2)}×** throughput (${f(Math.min(...ratios), 2)}–${f(Math.max(...ratios), 2)} over rounds), **${f(median(cpuRatios), 2)}×** requests per server CPU-second (${f(Math.min(...cpuRatios), 2)}–${f(Math.max(...cpuRatios), 2)}), which holds when other programs share the server CPU; target ≥ 3×.`,
  ].join('\n');
}

process.on('SIGINT', () => {
  void (server ? stop(server, 2000) : Promise.resolve()).then(() => process.exit(130));
});

main().catch(async (err) => {
  console.error(`[bench:batching] ${err.message}`);
  if (server) await stop(server, 2000);
  process.exit(1);
});
