#!/usr/bin/env node
// The same pickled scikit-learn model (bench/server/train_iris.py's joblib iris classifier, served
// by `mlserver_sklearn.SKLearnModel`) behind Tessera's Python worker and behind MLServer 1.7.1,
// both with their defaults, side by side on one core: `npm run bench:python`. Where the time goes
// is read from /proc: the CPU of the front-end process (Tessera's Node process, MLServer's main
// process) and of its worker processes (Tessera's Python worker, MLServer's inference-pool
// worker), per request. See bench/server/README.md.
// Environment: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_WARMUP_SECONDS (5), BENCH_SERVER_CPU
// (0), BENCH_CLIENT_CPU (1), BENCH_WRK (wrk), TESSERA_PYTHON_BASE (python3).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/peers/exec.mjs';
import { timingConfig, pinHarness, buildServer } from './bench-config.mjs';
import { writeResultsBlock } from '../operator/results-file.ts';
import { runGrpc, runWrk, writeWrkScript } from './load.mjs';
import { findWrk, provisionMlserver } from './peers.mjs';
import { grpcOnce, restJson } from './probe.mjs';
import { encodeInferRequest } from './proto.mjs';
import { median } from './format.mjs';
import {
  freePort,
  ownCpuSeconds,
  startPinned,
  stop,
  treeCpuSeconds,
  waitReady,
} from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const NPROC = availableParallelism();

const cfg = timingConfig();
const log = (m) => console.log(`[bench:python] ${m}`);
const servers = [];

const SCENARIOS = [
  { id: 'rest-c1', label: 'REST JSON [1,4], c=1', proto: 'rest', concurrency: 1 },
  { id: 'rest-c10', label: 'REST JSON [1,4], c=10', proto: 'rest', concurrency: 10 },
  { id: 'grpc-c10', label: 'gRPC raw [1,4], c=10', proto: 'grpc', concurrency: 10 },
];

async function main() {
  await pinHarness(cfg, NPROC);
  const { wrk, version: wrkVersion } = await findWrk();
  const ml = await provisionMlserver((m) => log(`mlserver peer: ${m}`));
  await buildServer(root, log);
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-bench-python-'));
  try {
    const mlserver = await startMlserver(tmp, ml);
    const tessera = await startTessera(tmp, ml, mlserver.repo);
    const list = [mlserver, tessera];
    await verify(list, mlserver.trained);
    prepareLoad(tmp, list, mlserver.trained.rows[0]);
    const measured = await measureAll(wrk, list);
    writeResultsBlock(
      'Python runtimes',
      'Tessera Python worker / MLServer',
      report(measured, {
        wrkVersion,
        python: ml.version,
        commit: (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).trim(),
      }),
    );
    log('wrote bench/RESULTS.md, section "Python runtimes"');
    const failed = Object.values(measured).flatMap((s) =>
      Object.entries(s).flatMap(([name, rounds]) =>
        rounds.filter((r) => r.errors > 0).map((r) => `${name}: ${r.errorDetail}`),
      ),
    );
    for (const f of failed) log(`FAILED: ${f}`);
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    for (const s of servers) await stop(s);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function ports() {
  return { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
}

/** MLServer 1.7.1 with its defaults (parallel_workers 1) on train_iris.py's folder. */
async function startMlserver(tmp, ml) {
  const p = await ports();
  const repo = join(tmp, 'mlserver');
  const out = await run(
    ml.python,
    [
      join(here, 'train_iris.py'),
      ...['--out', repo, '--http-port', String(p.http), '--grpc-port', String(p.grpc)],
      ...['--metrics-port', String(p.metrics), '--parallel-workers', '1'],
    ],
    { timeoutMs: 120_000 },
  );
  const trained = JSON.parse(out.trim().split('\n').pop());
  const handle = startPinned({
    name: 'mlserver',
    cpu: cfg.serverCpu,
    cmd: ml.mlserver,
    args: ['start', repo],
    cwd: repo,
    env: {},
    logFile: join(tmp, 'mlserver.log'),
  });
  Object.assign(handle, {
    ...p,
    repo,
    trained,
    frontEnd: 'main process',
    worker: 'inference pool',
  });
  servers.push(handle);
  log(`mlserver ready in ${await waitReady(handle, readyUrl(handle))} ms`);
  return handle;
}

/** Tessera with its defaults; the same model folder, served by its Python worker. */
async function startTessera(tmp, ml, mlserverRepo) {
  const p = await ports();
  const repo = join(tmp, 'tessera');
  mkdirSync(join(repo, 'iris'), { recursive: true });
  for (const f of ['model.joblib', 'model-settings.json'])
    copyFileSync(join(mlserverRepo, 'iris', f), join(repo, 'iris', f));
  const handle = startPinned({
    name: 'tessera',
    cpu: cfg.serverCpu,
    cmd: process.execPath,
    args: [
      join(root, 'server', 'dist', 'cli.js'),
      ...['start', repo, '--host', '127.0.0.1', '--http-port', String(p.http)],
      ...['--grpc-port', String(p.grpc), '--metrics-port', String(p.metrics)],
    ],
    cwd: tmp,
    env: { TESSERA_PYTHON_EXECUTABLE: ml.python },
    logFile: join(tmp, 'tessera.log'),
  });
  Object.assign(handle, { ...p, frontEnd: 'Node process', worker: 'Python worker' });
  servers.push(handle);
  log(`tessera ready in ${await waitReady(handle, readyUrl(handle))} ms`);
  return handle;
}

const readyUrl = (s) => `http://127.0.0.1:${s.http}/v2/models/iris/ready`;
const inferUrl = (s) => `http://127.0.0.1:${s.http}/v2/models/iris/infer`;
const jsonBody = (row) => ({
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }],
});
const grpcBody = (row) =>
  encodeInferRequest({ model: 'iris', input: 'input', shape: [1, 4], values: row, raw: true });

/** Both servers must answer scikit-learn's labels over REST and gRPC before any load. */
async function verify(list, { rows, labels }) {
  for (const s of list) {
    const rest = [];
    const grpc = [];
    for (const row of rows) {
      rest.push(Number((await restJson(inferUrl(s), jsonBody(row))).outputs[0].data[0]));
      grpc.push(
        Number((await grpcOnce(`127.0.0.1:${s.grpc}`, grpcBody(row))).outputs[0].values[0]),
      );
    }
    const same = (got) => got.every((l, i) => l === labels[i]);
    if (!same(rest) || !same(grpc))
      throw new Error(
        `${s.name} disagrees with scikit-learn's labels ${JSON.stringify(labels)}: REST ${JSON.stringify(rest)}, gRPC ${JSON.stringify(grpc)}`,
      );
  }
  log(`label check passed: both return ${JSON.stringify(labels)} over REST JSON and gRPC raw`);
}

function prepareLoad(tmp, list, row) {
  for (const s of list) {
    const body = join(tmp, `${s.name}.json`);
    writeFileSync(body, JSON.stringify(jsonBody(row)));
    s.script = writeWrkScript(join(tmp, `${s.name}.lua`), body, {
      'Content-Type': 'application/json',
    });
    s.grpcFile = join(tmp, `${s.name}.grpc`);
    writeFileSync(s.grpcFile, grpcBody(row));
  }
}

function load(wrk, s, scenario, seconds) {
  if (scenario.proto === 'grpc') {
    return runGrpc({
      cpu: cfg.clientCpu,
      target: `127.0.0.1:${s.grpc}`,
      requestFile: s.grpcFile,
      concurrency: scenario.concurrency,
      seconds,
    });
  }
  return runWrk({
    wrk,
    cpu: cfg.clientCpu,
    url: inferUrl(s),
    script: s.script,
    concurrency: scenario.concurrency,
    seconds,
  });
}

/** CPU seconds so far of the front-end process alone and of its descendants (the workers). */
function cpuSplit(s) {
  const front = ownCpuSeconds(s.pid);
  return { front, workers: treeCpuSeconds(s.pid) - front };
}

async function measureOnce(wrk, s, scenario) {
  const before = cpuSplit(s);
  const r = await load(wrk, s, scenario, cfg.seconds);
  const after = cpuSplit(s);
  const front = after.front - before.front;
  const workers = after.workers - before.workers;
  const perRequestMs = (cpu) => (r.requests > 0 ? (cpu * 1000) / r.requests : 0);
  return {
    ...r,
    serverCpuUtil: (front + workers) / r.seconds,
    frontMsPerRequest: perRequestMs(front),
    workerMsPerRequest: perRequestMs(workers),
  };
}

/** Warm-up per server, then rounds with the order rotated, so ratios are paired per round. */
async function measureAll(wrk, list) {
  const out = {};
  for (const scenario of SCENARIOS) {
    out[scenario.id] = Object.fromEntries(list.map((s) => [s.name, []]));
    for (const s of list) if (cfg.warmup > 0) await load(wrk, s, scenario, cfg.warmup);
    for (let round = 0; round < cfg.rounds; round += 1) {
      for (const s of list.map((_, i) => list[(i + round) % list.length])) {
        const m = await measureOnce(wrk, s, scenario);
        out[scenario.id][s.name].push(m);
        log(
          `${scenario.id} ${s.name} round ${round + 1}/${cfg.rounds}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50_ms.toFixed(3)} ms, p99 ${m.p99_ms.toFixed(3)} ms, CPU/request front ${m.frontMsPerRequest.toFixed(3)} ms + worker ${m.workerMsPerRequest.toFixed(3)} ms, errors ${m.errors}`,
        );
      }
    }
  }
  return out;
}

function report(measured, facts) {
  const f = (x, d = 0) => x.toFixed(d);
  const rows = SCENARIOS.map((sc) => {
    const t = measured[sc.id].tessera;
    const m = measured[sc.id].mlserver;
    const ratios = t.map((r, i) => r.rps / m[i].rps);
    const cpuOf = (r) => r.frontMsPerRequest + r.workerMsPerRequest;
    const cpuRatios = t.map((r, i) => cpuOf(m[i]) / cpuOf(r));
    const med = (list, key) => median(list.map((r) => r[key]));
    const cpu = (list) =>
      `${f(med(list, 'frontMsPerRequest'), 3)} + ${f(med(list, 'workerMsPerRequest'), 3)}`;
    return `| ${sc.label} | ${f(med(t, 'rps'))} | ${f(med(m, 'rps'))} | **${f(median(ratios), 2)}** (${f(Math.min(...ratios), 2)}–${f(Math.max(...ratios), 2)}) | ${f(med(t, 'p50_ms'), 3)} / ${f(med(t, 'p99_ms'), 3)} | ${f(med(m, 'p50_ms'), 3)} / ${f(med(m, 'p99_ms'), 3)} | ${cpu(t)} | ${cpu(m)} | **${f(median(cpuRatios), 2)}** (${f(Math.min(...cpuRatios), 2)}–${f(Math.max(...cpuRatios), 2)}) | ${f(med(t, 'serverCpuUtil') * 100)} % / ${f(med(m, 'serverCpuUtil') * 100)} % |`;
  });
  return [
    '### Tessera Python worker / MLServer',
    '',
    `Generated by \`BENCH_SECONDS=${cfg.seconds} BENCH_ROUNDS=${cfg.rounds} BENCH_WARMUP_SECONDS=${cfg.warmup} npm run bench:python\` on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} (commit ${facts.commit}); ${facts.python}, wrk ${facts.wrkVersion}, ${NPROC} CPUs.`,
    '',
    "- Model: bench/server/train_iris.py's joblib iris classifier (scikit-learn 1.9.1) served by `mlserver_sklearn.SKLearnModel` 1.7.1 on both sides, the same folder; Tessera gets it through its Python worker (no ONNX in the folder), with the MLServer peer's virtualenv as `python_executable`.",
    '- Both with their defaults: MLServer 1.7.1 with `parallel_workers` 1 (one inference-pool process), Tessera with one Python worker process. Both process trees pinned to one CPU, the load (wrk -t1; the grpc-js client for gRPC) on the other; rounds rotate the order and ratios are per round.',
    "- Label check before measuring: both return scikit-learn's labels for six rows over REST JSON and gRPC raw contents.",
    '- Throughput ratios hold only while the server CPU is otherwise idle (the last column shows how much of it each server got); on a shared machine read the CPU-normalised ratio, which does not depend on what else runs.',
    "- CPU per request = the front end's CPU-ms per request + its workers' (from /proc: Tessera's Node process + its Python worker; MLServer's main process + its inference-pool worker).",
    '',
    '| Scenario | Tessera req/s | MLServer req/s | Throughput ratio, median (min–max) | Tessera p50 / p99 ms | MLServer p50 / p99 ms | Tessera CPU-ms per request, front + worker | MLServer CPU-ms per request, front + worker | CPU-normalised ratio (MLServer ÷ Tessera CPU per request) | server CPU, Tessera / MLServer |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

process.on('SIGINT', () => {
  void Promise.all(servers.map((s) => stop(s, 2000))).then(() => process.exit(130));
});

main().catch(async (err) => {
  console.error(`[bench:python] ${err.message}`);
  for (const s of servers) await stop(s, 2000);
  process.exit(1);
});
