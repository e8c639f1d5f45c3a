#!/usr/bin/env node
// Tessera vs MLServer 1.7.1 and vs Triton 2.51, same machine, same run: `npm run bench:server`.
// See bench/server/README.md. Environment: BENCH_SECONDS (10), BENCH_ROUNDS (3),
// BENCH_WARMUP_SECONDS (5), BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1), BENCH_SWEEP (1; 0 skips
// the payload sweep), BENCH_MLSERVER (1; 0 skips the MLServer comparison and the sweep),
// BENCH_MLSERVER_PW0 (1; 0 skips MLServer with parallel_workers 0), BENCH_TRITON (1; 0 skips the
// Triton comparison), BENCH_TRITON_CONCURRENCY (1,16), BENCH_DENSITY (1; 0 skips the model
// density and load-latency measurement), BENCH_REPORT_ONLY (1: rewrite the report from
// last-run.json), BENCH_RESULTS (bench/RESULTS.md),
// BENCH_WRK (wrk), TESSERA_PYTHON_BASE (python3).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/peers/exec.mjs';
import { timingConfig } from './bench-config.mjs';
import { findWrk, provisionMlserver } from './peers.mjs';
import { runGrpc, runWrk, writeWrkScript } from './load.mjs';
import { grpcOnce, restJson, restBinary } from './probe.mjs';
import { encodeInferRequest } from './proto.mjs';
import { writeReport } from './report.mjs';
import { compareWithTriton, parsePerfCsv, perfAnalyzer } from './triton-compare.mjs';
import { measureDensity } from './density.mjs';
import { provision as provisionPerfAnalyzer } from '../../test/peers/perf-analyzer.peer.mjs';
import {
  ELD_PRELOAD,
  childrenCpuSeconds,
  cpuBusySeconds,
  eventLoopDelay,
  freePort,
  startPinned,
  stop,
  treeCpuSeconds,
  waitReady,
} from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const cfg = {
  ...timingConfig(),
  sweep: process.env.BENCH_SWEEP !== '0',
  mlserver: process.env.BENCH_MLSERVER !== '0',
  mlserverPw0: process.env.BENCH_MLSERVER_PW0 !== '0',
  triton: process.env.BENCH_TRITON !== '0',
  density: process.env.BENCH_DENSITY !== '0',
  tritonConcurrency: concurrencyList(process.env.BENCH_TRITON_CONCURRENCY ?? '1,16'),
  results: process.env.BENCH_RESULTS ?? join(root, 'bench', 'RESULTS.md'),
};

function concurrencyList(text) {
  const list = text.split(',').map(Number);
  if (list.length === 0 || !list.every((c) => Number.isInteger(c) && c >= 1 && c <= 256))
    throw new Error(
      'BENCH_TRITON_CONCURRENCY must be a comma-separated list of integers in [1, 256]',
    );
  return list;
}

const log = (m) => console.log(`[bench] ${m}`);
const servers = [];

const NPROC = availableParallelism(); // read before the harness pins itself to one CPU

/** BENCH_REPORT_ONLY=1: rewrites the report from last-run.json, measuring nothing. */
async function reportOnly() {
  const last = JSON.parse(readFileSync(join(here, 'last-run.json'), 'utf8'));
  const { triton, density, ...server } = last;
  await writeReport({
    server: server.measured ? server : undefined,
    triton,
    density,
    resultsPath: cfg.results,
    jsonPath: join(here, 'last-run.json'),
  });
  log(`rewrote ${cfg.results} from last-run.json`);
}

async function main() {
  if (process.env.BENCH_REPORT_ONLY === '1') return reportOnly();
  if (NPROC < 2 || cfg.serverCpu === cfg.clientCpu) {
    throw new Error(
      'needs two CPUs: the server on BENCH_SERVER_CPU and the load generator on BENCH_CLIENT_CPU',
    );
  }
  await run('taskset', ['-cp', String(cfg.clientCpu), String(process.pid)], { timeoutMs: 10_000 });
  log(`harness and load generators on CPU ${cfg.clientCpu}, servers on CPU ${cfg.serverCpu}`);
  log('building the server (tsc -b server)');
  await run('npx', ['tsc', '-b', 'server'], { cwd: root, timeoutMs: 300_000 });

  const tmp = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  try {
    const facts = await machineFacts();
    const server = cfg.mlserver ? await mlserverComparison(tmp, facts) : undefined;
    const triton = cfg.triton
      ? await compareWithTriton({
          cfg,
          tmp,
          startTessera: (options) => startTessera({ tmp }, options),
          track: (handle) => servers.push(handle),
          log,
        })
      : undefined;
    const density = cfg.density
      ? await measureDensity({ tmp, startTessera: (o) => startTessera({ tmp }, o), log })
      : undefined;
    await writeReport({
      server,
      density: density && { ...density, config: cfg, facts },
      triton: triton && { ...triton, config: cfg, facts: { ...facts, ...triton.facts } },
      resultsPath: cfg.results,
      jsonPath: join(here, 'last-run.json'),
    });
    log(`wrote ${cfg.results}`);
    reportFailures(server, triton);
  } finally {
    for (const s of servers) await stop(s);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Any failed measurement fails the command (exit code 1), after the report was written. */
function reportFailures(server, triton) {
  const failures = [
    ...collectFailures(server?.measured ?? {}, server?.sweep),
    ...collectFailures(triton?.measured ?? {}),
    ...collectFailures(triton?.frontEnd?.routes ?? {}),
  ];
  for (const f of failures) log(`FAILED: ${f}`);
  if (failures.length > 0) process.exitCode = 1;
}

/** Tessera against MLServer on iris, then the Tessera-only payload sweep. */
async function mlserverComparison(tmp, common) {
  const { wrk, version: wrkVersion } = await findWrk();
  const ml = await provisionMlserver((m) => log(`mlserver peer: ${m}`));
  const facts = { ...common, ...(await mlserverFacts(ml)), wrk: wrkVersion };
  const ctx = { tmp, wrk, ml, facts };
  const iris = await startIrisServers(ctx);
  const scenarios = irisScenarios(ctx, iris);
  const measured = await measureAll(ctx, iris.servers, scenarios);
  for (const s of iris.servers) await stop(s);
  const sweep = cfg.sweep ? await payloadSweep(ctx) : undefined;
  return { config: cfg, facts, verification: iris.verification, measured, sweep };
}

async function mlserverFacts(ml) {
  const mlVersion = (await run(ml.mlserver, ['--version'], { timeoutMs: 60_000 }))
    .trim()
    .replace(/^.*version\s*/, '');
  return { python: ml.version, mlserver: mlVersion };
}

async function machineFacts() {
  const ort = JSON.parse(
    await run(
      process.execPath,
      ['-p', "JSON.stringify(require('onnxruntime-node/package.json').version)"],
      {
        cwd: join(root, 'server'),
        timeoutMs: 30_000,
      },
    ),
  );
  const commit = (
    await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, timeoutMs: 10_000 })
  ).trim();
  return {
    nproc: NPROC,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    onnxruntimeNode: ort,
    commit,
    // The 1-minute load average before the run: on a shared machine, what else competed.
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

// ---- servers -------------------------------------------------------------------------------

async function startTessera(ctx, { name, repo, model, readyPath, parallelWorkers, env = {} }) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const eldFile = join(ctx.tmp, `${name}.eld.json`);
  const handle = startPinned({
    name,
    cpu: cfg.serverCpu,
    cmd: process.execPath,
    args: [
      '--import',
      ELD_PRELOAD,
      join(root, 'server', 'dist', 'cli.js'),
      'start',
      repo,
      '--host',
      '127.0.0.1',
      '--http-port',
      String(http),
      '--grpc-port',
      String(grpc),
      '--metrics-port',
      String(metrics),
    ],
    cwd: ctx.tmp,
    env: { ...env, MLSERVER_PARALLEL_WORKERS: String(parallelWorkers), BENCH_ELD_FILE: eldFile },
    logFile: join(ctx.tmp, `${name}.log`),
  });
  Object.assign(handle, { kind: 'tessera', http, grpc, eldFile, parallelWorkers, model });
  servers.push(handle);
  const ready = readyPath ?? `/v2/models/${model}/ready`;
  const ms = await waitReady(handle, `http://127.0.0.1:${http}${ready}`);
  log(`${name} ready in ${ms} ms (pid ${handle.pid})`);
  return handle;
}

/**
 * MLServer tuned for throughput as Seldon's performance guide recommends: `parallel_workers` as
 * many as the CPU cores it gets (one, here) and adaptive batching sized to the load (batches of up
 * to the c=16 scenario's concurrency, 2 ms to fill one).
 */
const MLSERVER_TUNED = { maxBatchSize: 16, maxBatchTime: 0.002 };

async function startMlserver(ctx, { name, parallelWorkers, batching }) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const repo = join(ctx.tmp, name);
  const out = await run(
    ctx.ml.python,
    [
      join(here, 'train_iris.py'),
      '--out',
      repo,
      '--http-port',
      String(http),
      '--grpc-port',
      String(grpc),
      '--metrics-port',
      String(metrics),
      '--parallel-workers',
      String(parallelWorkers),
      ...(batching
        ? [
            ...['--max-batch-size', String(batching.maxBatchSize)],
            ...['--max-batch-time', String(batching.maxBatchTime)],
          ]
        : []),
    ],
    { timeoutMs: 120_000 },
  );
  const trained = JSON.parse(out.trim().split('\n').pop());
  const handle = startPinned({
    name,
    cpu: cfg.serverCpu,
    cmd: ctx.ml.mlserver,
    args: ['start', repo],
    cwd: repo,
    env: {},
    logFile: join(ctx.tmp, `${name}.log`),
  });
  Object.assign(handle, { kind: 'mlserver', http, grpc, parallelWorkers, model: 'iris', trained });
  servers.push(handle);
  const ms = await waitReady(handle, `http://127.0.0.1:${http}/v2/models/iris/ready`);
  log(`${name} ready in ${ms} ms (pid ${handle.pid})`);
  return handle;
}

async function startIrisServers(ctx) {
  const repo = join(ctx.tmp, 'tessera-repo');
  mkdirSync(join(repo, 'iris'), { recursive: true });
  for (const f of ['model.onnx', 'model-settings.json']) {
    copyFileSync(join(root, 'examples', 'models', 'iris', f), join(repo, 'iris', f));
  }
  const list = [
    await startMlserver(ctx, { name: 'mlserver-pw1', parallelWorkers: 1 }),
    ...(cfg.mlserverPw0
      ? [await startMlserver(ctx, { name: 'mlserver-pw0', parallelWorkers: 0 })]
      : []),
    await startMlserver(ctx, {
      name: 'mlserver-tuned',
      parallelWorkers: 1,
      batching: MLSERVER_TUNED,
    }),
    await startTessera(ctx, { name: 'tessera-pw1', repo, model: 'iris', parallelWorkers: 1 }),
    await startTessera(ctx, { name: 'tessera-pw0', repo, model: 'iris', parallelWorkers: 0 }),
  ];
  const verification = await verifyIris(list);
  return { servers: list, verification, trained: list[0].trained };
}

// ---- iris requests and the label check -------------------------------------------------------

function irisJson(server, row) {
  const body = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }] };
  // Tessera's ONNX iris has two outputs; ask for the label only, which is what MLServer's
  // SKLearnModel returns by default (`predict`).
  if (server.kind === 'tessera') body.outputs = [{ name: 'label' }];
  return body;
}

function irisGrpc(server, row, raw) {
  return encodeInferRequest({
    model: 'iris',
    input: 'input',
    shape: [1, 4],
    values: row,
    outputs: server.kind === 'tessera' ? ['label'] : [],
    raw,
  });
}

async function verifyIris(list) {
  const { rows, labels } = list[0].trained;
  const checks = [];
  for (const server of list) {
    const rest = [];
    const grpc = [];
    for (const row of rows) {
      const res = await restJson(
        `http://127.0.0.1:${server.http}/v2/models/iris/infer`,
        irisJson(server, row),
      );
      rest.push(Number(res.outputs[0].data[0]));
      const g = await grpcOnce(`127.0.0.1:${server.grpc}`, irisGrpc(server, row, true));
      grpc.push(Number(g.outputs[0].values[0]));
    }
    const ok = rest.every((l, i) => l === labels[i]) && grpc.every((l, i) => l === labels[i]);
    checks.push({ server: server.name, rest, grpc, ok });
    if (!ok) {
      throw new Error(
        `${server.name} disagrees with scikit-learn's labels ${JSON.stringify(labels)}: REST ${JSON.stringify(rest)}, gRPC ${JSON.stringify(grpc)}`,
      );
    }
  }
  log(
    `label check passed: every server returns ${JSON.stringify(labels)} for ${rows.length} iris rows (REST and gRPC raw)`,
  );
  return { rows, labels, checks };
}

function irisScenarios(ctx, iris) {
  const row = iris.trained.rows[0];
  const scenarios = [1, 16, 64].map((c) => ({
    id: `rest-c${c}`,
    label: `REST JSON [1,4], c=${c}`,
    proto: 'rest',
    concurrency: c,
  }));
  for (const c of [1, 16, 64]) {
    scenarios.push({
      id: `grpc-c${c}`,
      label: `gRPC raw [1,4], c=${c}`,
      proto: 'grpc',
      concurrency: c,
    });
  }
  for (const server of iris.servers) {
    const body = join(ctx.tmp, `${server.name}.iris.json`);
    writeFileSync(body, JSON.stringify(irisJson(server, row)));
    server.restScript = writeWrkScript(join(ctx.tmp, `${server.name}.iris.lua`), body, {
      'Content-Type': 'application/json',
    });
    server.restUrl = `http://127.0.0.1:${server.http}/v2/models/iris/infer`;
    server.grpcFile = join(ctx.tmp, `${server.name}.iris.grpc`);
    writeFileSync(server.grpcFile, irisGrpc(server, row, true));
  }
  return scenarios;
}

// ---- measuring -----------------------------------------------------------------------------

async function load(ctx, server, scenario, seconds) {
  if (scenario.proto === 'grpc') {
    return runGrpc({
      cpu: cfg.clientCpu,
      target: `127.0.0.1:${server.grpc}`,
      requestFile: scenario.grpcFile ?? server.grpcFile,
      concurrency: scenario.concurrency,
      seconds,
    });
  }
  return runWrk({
    wrk: ctx.wrk,
    cpu: cfg.clientCpu,
    url: scenario.url ?? server.restUrl,
    script: scenario.script ?? server.restScript,
    concurrency: scenario.concurrency,
    seconds,
  });
}

/** One measured round: load + CPU seconds of the target (and of every other server, idle). */
async function measureOnce(ctx, server, scenario, others) {
  const otherBefore = others.map((o) => treeCpuSeconds(o.pid));
  const coreBefore = cpuBusySeconds(cfg.serverCpu);
  const cpuBefore = treeCpuSeconds(server.pid);
  const clientBefore = childrenCpuSeconds();
  await eventLoopDelay(server);
  const r = await load(ctx, server, scenario, cfg.seconds);
  const eld = await eventLoopDelay(server);
  const cpu = treeCpuSeconds(server.pid) - cpuBefore;
  const idleCpu = others.reduce((s, o, i) => s + treeCpuSeconds(o.pid) - otherBefore[i], 0);
  const clientCpu = childrenCpuSeconds() - clientBefore;
  // What else ran on the server CPU (other programs on this machine), besides our servers.
  const foreign = Math.max(0, cpuBusySeconds(cfg.serverCpu) - coreBefore - cpu - idleCpu);
  return {
    foreignCpuUtil: foreign / r.seconds,
    ...r,
    serverCpuSeconds: cpu,
    serverCpuUtil: cpu / r.seconds,
    requestsPerCpuSecond: cpu > 0 ? r.requests / cpu : 0,
    clientCpuUtil: clientCpu / r.seconds,
    idleServersCpuSeconds: idleCpu,
    eventLoopDelay: eld,
  };
}

/**
 * For each scenario: a warm-up per server, then `rounds` rounds in which every server is
 * measured once, in an order rotated each round, so round i of every server ran at about the
 * same time (paired ratios) and no server always goes first.
 */
async function measureAll(ctx, list, scenarios) {
  const out = {};
  for (const scenario of scenarios) {
    out[scenario.id] = {
      label: scenario.label,
      concurrency: scenario.concurrency,
      proto: scenario.proto,
      servers: {},
    };
    for (const server of list) {
      if (cfg.warmup > 0) {
        log(`${scenario.id} ${server.name}: warm-up ${cfg.warmup}s`);
        await load(ctx, server, scenario, cfg.warmup);
      }
      out[scenario.id].servers[server.name] = [];
    }
    for (let round = 0; round < cfg.rounds; round += 1) {
      const order = list.map((_, i) => list[(i + round) % list.length]);
      for (const server of order) {
        const others = servers.filter((s) => s !== server && !s.exited);
        const m = await measureOnce(ctx, server, scenario, others);
        m.round = round;
        out[scenario.id].servers[server.name].push(m);
        log(
          `${scenario.id} ${server.name} round ${round + 1}/${cfg.rounds}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50_ms.toFixed(3)} ms, p99 ${m.p99_ms.toFixed(3)} ms, errors ${m.errors}, server CPU ${(m.serverCpuUtil * 100).toFixed(0)}%`,
        );
      }
    }
  }
  return out;
}

// ---- Tessera-only payload sweep --------------------------------------------------------------

const SWEEP_N = 65_536;

function sweepValues() {
  return Array.from({ length: SWEEP_N }, (_, i) => Math.fround(Math.sin(i)));
}

async function payloadSweep(ctx) {
  const repo = join(ctx.tmp, 'tessera-sweep-repo');
  mkdirSync(join(repo, 'scale-fp32'), { recursive: true });
  for (const f of ['model.onnx', 'model-settings.json']) {
    copyFileSync(join(here, 'models', 'scale-fp32', f), join(repo, 'scale-fp32', f));
  }
  const server = await startTessera(ctx, {
    name: 'tessera-sweep',
    repo,
    model: 'scale-fp32',
    parallelWorkers: 1,
    env: { TESSERA_ALLOW_CLIENT_SHM: 'true' },
  });
  const values = sweepValues();
  const url = `http://127.0.0.1:${server.http}/v2/models/scale-fp32/infer`;
  const f32 = Float32Array.from(values);
  const bytes = Buffer.from(f32.buffer);

  const jsonBody = { inputs: [{ name: 'x', shape: [1, SWEEP_N], datatype: 'FP32', data: values }] };
  const jsonFile = join(ctx.tmp, 'sweep.json');
  writeFileSync(jsonFile, JSON.stringify(jsonBody));
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [1, SWEEP_N],
          datatype: 'FP32',
          parameters: { binary_data_size: bytes.length },
        },
      ],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    }),
  );
  const binFile = join(ctx.tmp, 'sweep.bin');
  writeFileSync(binFile, Buffer.concat([header, bytes]));
  const grpcFile = join(ctx.tmp, 'sweep.grpc');
  writeFileSync(
    grpcFile,
    encodeInferRequest({ model: 'scale-fp32', input: 'x', shape: [1, SWEEP_N], values, raw: true }),
  );

  // Correctness first: y = 2x on all three paths.
  const expectDoubled = (got, what) => {
    for (const i of [0, 1, 4097, SWEEP_N - 1]) {
      if (Math.abs(Number(got[i]) - 2 * f32[i]) > 1e-6)
        throw new Error(`sweep ${what}: y[${i}]=${got[i]}, expected ${2 * f32[i]}`);
    }
    if (got.length !== SWEEP_N) throw new Error(`sweep ${what}: ${got.length} elements`);
  };
  expectDoubled((await restJson(url, jsonBody)).outputs[0].data, 'REST JSON');
  expectDoubled(await restBinary(url, header, bytes), 'REST binary');
  expectDoubled(
    (await grpcOnce(`127.0.0.1:${server.grpc}`, readFileSync(grpcFile))).outputs[0].values,
    'gRPC raw',
  );
  log('sweep: y = 2x on REST JSON, REST binary extension and gRPC raw');

  const modes = [
    {
      id: 'json',
      label: 'REST JSON',
      proto: 'rest',
      url,
      script: writeWrkScript(join(ctx.tmp, 'sweep-json.lua'), jsonFile, {
        'Content-Type': 'application/json',
      }),
    },
    {
      id: 'binary',
      label: 'REST binary extension',
      proto: 'rest',
      url,
      script: writeWrkScript(join(ctx.tmp, 'sweep-bin.lua'), binFile, {
        'Content-Type': 'application/octet-stream',
        'Inference-Header-Content-Length': String(header.length),
      }),
    },
    { id: 'grpc', label: 'gRPC raw contents', proto: 'grpc', grpcFile },
  ];
  const out = {
    elements: SWEEP_N,
    requestBytes: { json: JSON.stringify(jsonBody).length, binary: header.length + bytes.length },
    modes: {},
  };
  for (const concurrency of [1, 10]) {
    for (const mode of modes) {
      const scenario = { ...mode, concurrency };
      const key = `${mode.id}-c${concurrency}`;
      if (cfg.warmup > 0) await load(ctx, server, scenario, cfg.warmup);
      const rounds = [];
      for (let round = 0; round < cfg.rounds; round += 1) {
        const before = await serverStats(server, 'scale-fp32');
        const m = await measureOnce(ctx, server, scenario, []);
        m.serverTime_us = serverTimeMicros(before, await serverStats(server, 'scale-fp32'));
        rounds.push(m);
        log(
          `sweep ${key} round ${round + 1}/${cfg.rounds}: ${m.rps.toFixed(0)} req/s, p50 ${m.p50_ms.toFixed(3)} ms, p99 ${m.p99_ms.toFixed(3)} ms, errors ${m.errors}`,
        );
      }
      out.modes[key] = { label: mode.label, concurrency, rounds };
    }
  }
  out.sharedMemory = await sweepSharedMemory(ctx, server);
  await stop(server);
  return out;
}

/** The statistics extension's cumulative counts and durations of one model. */
async function serverStats(server, model) {
  const res = await fetch(`http://127.0.0.1:${server.http}/v2/models/${model}/stats`);
  const body = await res.json();
  return body.model_stats[0].inference_stats;
}

/**
 * Server time per successful request between two statistics snapshots: queue + compute input +
 * compute infer + compute output (Triton's server-side split, as perf_analyzer reports it).
 */
function serverTimeMicros(before, after) {
  const n = after.success.count - before.success.count;
  if (n <= 0) return NaN;
  const parts = ['queue', 'compute_input', 'compute_infer', 'compute_output'];
  const ns = parts.reduce((sum, k) => sum + (after[k].ns - before[k].ns), 0);
  return ns / n / 1000;
}

/**
 * The 65,536-element request through system shared memory: perf_analyzer registers the regions
 * and sends only their names and offsets, over HTTP and gRPC, at c=1; its CSV carries the
 * server-side times from the statistics extension.
 */
async function sweepSharedMemory(ctx, server) {
  const pa = await provisionPerfAnalyzer((m) => log(`perf_analyzer peer: ${m}`));
  const model = {
    name: 'scale-fp32',
    inputs: [{ name: 'x', shape: [1, SWEEP_N] }],
    dataFile: 'random',
  };
  const out = {};
  for (const protocol of ['http', 'grpc']) {
    const mode = {
      protocol,
      args: ['--shared-memory', 'system', '--output-shared-memory-size', String(SWEEP_N * 4)],
    };
    const rounds = [];
    for (let round = 0; round < cfg.rounds; round += 1) {
      const csv = join(ctx.tmp, 'sweep-shm.csv');
      writeFileSync(csv, '');
      const cpuBefore = treeCpuSeconds(server.pid);
      const started = process.hrtime.bigint();
      await perfAnalyzer({
        cfg,
        pa,
        server,
        model,
        mode,
        concurrency: 1,
        seconds: cfg.seconds,
        csv,
      });
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const r = parsePerfCsv(readFileSync(csv, 'utf8'));
      r.serverTime_us =
        r.serverQueue_us +
        r.serverComputeInput_us +
        r.serverComputeInfer_us +
        r.serverComputeOutput_us;
      r.serverCpuUtil = (treeCpuSeconds(server.pid) - cpuBefore) / wall;
      rounds.push(r);
      log(
        `sweep shared memory ${protocol} round ${round + 1}/${cfg.rounds}: ${r.rps.toFixed(0)} infer/s, server time ${r.serverTime_us.toFixed(0)} µs`,
      );
    }
    out[protocol] = rounds;
  }
  return out;
}

function collectFailures(measured, sweep) {
  const failures = [];
  for (const [id, s] of Object.entries(measured)) {
    for (const [name, rounds] of Object.entries(s.servers)) {
      for (const r of rounds)
        if (r.errors > 0) failures.push(`${id} ${name} round ${r.round + 1}: ${r.errorDetail}`);
    }
  }
  for (const [key, m] of Object.entries(sweep?.modes ?? {})) {
    for (const r of m.rounds) if (r.errors > 0) failures.push(`sweep ${key}: ${r.errorDetail}`);
  }
  return failures;
}

process.on('SIGINT', () => {
  void Promise.all(servers.map((s) => stop(s, 2000))).then(() => process.exit(130));
});

main().catch(async (err) => {
  console.error(`[bench] ${err.message}`);
  for (const s of servers) await stop(s, 2000);
  process.exit(1);
});
