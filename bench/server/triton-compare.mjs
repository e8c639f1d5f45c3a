// Tessera against Triton 2.51 (the tritonserver of nvidia-pytriton, bench/server/triton-peer.mjs)
// on the same pinned CPU, loaded by Triton's own perf_analyzer (test/peers/perf-analyzer.peer.mjs)
// from the client CPU. Models: `simple` (INT32 [1,16] x2 -> sum, difference) and an FP32 identity,
// ONNX on Tessera (examples/models/simple, bench/server/models/identity) and python backend on
// Triton (bench/server/models/triton). Paths: HTTP JSON, HTTP binary extension, gRPC raw
// contents, and system shared memory over HTTP and gRPC. Answers are checked before measuring.
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastLines, run } from '../../test/peers/exec.mjs';
import { provision as provisionPerfAnalyzer } from '../../test/peers/perf-analyzer.peer.mjs';
import { grpcOnce, restJson } from './probe.mjs';
import { encodeRawTensorsRequest } from './proto.mjs';
import {
  cpuBusySeconds,
  freePort,
  startPinned,
  stop,
  treeCpuSeconds,
  waitReady,
} from './servers.mjs';
import { provisionTriton } from './triton-peer.mjs';
import { measureFrontEnd } from './front-end.mjs';
import { findWrk } from './peers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export const IDENTITY_ELEMENTS = 4096;

/** perf_analyzer flags per path; HTTP sends the binary tensor extension unless told JSON. */
export const MODES = [
  {
    id: 'http-json',
    label: 'HTTP JSON',
    protocol: 'http',
    args: ['--input-tensor-format', 'json', '--output-tensor-format', 'json'],
  },
  { id: 'http-binary', label: 'HTTP binary extension', protocol: 'http', args: [] },
  { id: 'grpc', label: 'gRPC raw contents', protocol: 'grpc', args: [] },
  {
    id: 'http-shm',
    label: 'HTTP, system shared memory',
    protocol: 'http',
    args: ['--shared-memory', 'system'],
  },
  {
    id: 'grpc-shm',
    label: 'gRPC, system shared memory',
    protocol: 'grpc',
    args: ['--shared-memory', 'system'],
  },
];

/** The two models: inputs, and the outputs every server must return for them. */
export function models() {
  const a = Array.from({ length: 16 }, (_, i) => i);
  const b = Array.from({ length: 16 }, (_, i) => 3 * i - 7);
  const x = Array.from({ length: IDENTITY_ELEMENTS }, (_, i) => Math.fround(Math.sin(i)));
  return [
    {
      name: 'simple',
      label: 'simple, INT32 [1,16] ×2',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], values: a },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], values: b },
      ],
      outputs: {
        OUTPUT0: a.map((v, i) => v + b[i]),
        OUTPUT1: a.map((v, i) => v - b[i]),
      },
    },
    {
      name: 'identity',
      label: `identity, FP32 [1,${IDENTITY_ELEMENTS}]`,
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, IDENTITY_ELEMENTS], values: x }],
      outputs: { OUTPUT0: x },
    },
  ];
}

/** A JSON number that keeps FP32 values floating-point: perf_analyzer reads `0` as no float. */
const jsonNumber = (datatype, v) =>
  datatype === 'FP32' && Number.isInteger(v) ? v.toFixed(1) : String(v);

/**
 * perf_analyzer's --input-data file: the same tensors as the answer check. Its random data would
 * put NaN into FP32 JSON bodies, which Triton's parser takes and a strict JSON parser refuses.
 */
function writeInputData(tmp, model) {
  const tensors = model.inputs.map(
    (t) =>
      `${JSON.stringify(t.name)}: {"content": [${t.values.map((v) => jsonNumber(t.datatype, v)).join(',')}], "shape": ${JSON.stringify(t.shape)}}`,
  );
  const file = join(tmp, `${model.name}.perf-data.json`);
  writeFileSync(file, `{"data": [{${tensors.join(', ')}}]}`);
  return file;
}

// ---- servers -------------------------------------------------------------------------------

async function startTriton({ cfg, tmp, triton, track, log }) {
  const [http, grpc] = [await freePort(), await freePort()];
  const repo = join(tmp, 'triton-repo');
  cpSync(join(here, 'models', 'triton'), repo, { recursive: true });
  const handle = startPinned({
    name: 'triton',
    cpu: cfg.serverCpu,
    cmd: triton.tritonserver,
    args: [
      ...['--model-repository', repo, '--backend-directory', triton.backends],
      ...['--model-control-mode', 'explicit', '--load-model', 'simple', '--load-model', 'identity'],
      ...['--http-address', '127.0.0.1', '--http-port', String(http)],
      ...['--grpc-address', '127.0.0.1', '--grpc-port', String(grpc)],
      // CPU only: no metrics server (its port would be one more listener), no pinned host memory.
      ...['--allow-metrics', 'false', '--pinned-memory-pool-byte-size', '0'],
      '--exit-on-error',
      'true',
    ],
    cwd: tmp,
    env: triton.env,
    logFile: join(tmp, 'triton.log'),
  });
  Object.assign(handle, { kind: 'triton', http, grpc });
  track(handle);
  const ms = await waitReady(handle, `http://127.0.0.1:${http}/v2/health/ready`);
  const meta = await (await fetch(`http://127.0.0.1:${http}/v2`)).json();
  handle.version = meta.version;
  log(`triton ${meta.version} ready in ${ms} ms (pid ${handle.pid})`);
  return handle;
}

function tesseraRepo(tmp) {
  const repo = join(tmp, 'tessera-triton-repo');
  const folders = {
    simple: join(root, 'examples', 'models', 'simple'),
    identity: join(here, 'models', 'identity'),
    // For the front-end comparison only (bench/server/front-end.mjs): Triton serves no iris.
    iris: join(root, 'examples', 'models', 'iris'),
  };
  for (const [name, from] of Object.entries(folders)) {
    mkdirSync(join(repo, name), { recursive: true });
    for (const f of ['model.onnx', 'model-settings.json'])
      copyFileSync(join(from, f), join(repo, name, f));
  }
  return repo;
}

// ---- the answer check ----------------------------------------------------------------------

function sameValues(got, want) {
  return got.length === want.length && want.every((v, i) => Number(got[i]) === v);
}

async function checkServer(server, model) {
  const url = `http://127.0.0.1:${server.http}/v2/models/${model.name}/infer`;
  const rest = await restJson(url, {
    inputs: model.inputs.map(({ name, datatype, shape, values }) => ({
      name,
      datatype,
      shape,
      data: values,
    })),
  });
  const grpc = await grpcOnce(
    `127.0.0.1:${server.grpc}`,
    encodeRawTensorsRequest({ model: model.name, inputs: model.inputs }),
  );
  const wrong = [];
  for (const [name, want] of Object.entries(model.outputs)) {
    const r = rest.outputs.find((o) => o.name === name);
    const g = grpc.outputs.find((o) => o.name === name);
    if (!r || !sameValues(r.data, want)) wrong.push(`REST JSON ${name}`);
    if (!g || !sameValues(g.values, want)) wrong.push(`gRPC raw ${name}`);
  }
  if (wrong.length > 0) {
    throw new Error(`${server.name} answers ${model.name} wrongly: ${wrong.join(', ')}`);
  }
}

async function verify(list, log) {
  for (const model of models()) for (const server of list) await checkServer(server, model);
  const names = list.map((s) => s.name).join(', ');
  log(`answer check passed: ${names} return the same, expected outputs (REST JSON and gRPC raw)`);
  return { servers: list.map((s) => s.name), paths: ['REST JSON', 'gRPC raw'], ok: true };
}

// ---- perf_analyzer -------------------------------------------------------------------------

/** perf_analyzer's CSV (-f): one header line and one line per concurrency. */
export function parsePerfCsv(text) {
  const [head, row] = text.trim().split('\n');
  if (!head || !row) throw new Error('perf_analyzer wrote no CSV row');
  const keys = head.split(',');
  const values = row.split(',').map(Number);
  const at = (key) => {
    const i = keys.indexOf(key);
    if (i < 0) throw new Error(`perf_analyzer CSV has no column "${key}"`);
    return values[i];
  };
  return {
    rps: at('Inferences/Second'),
    p50_ms: at('p50 latency') / 1000,
    p90_ms: at('p90 latency') / 1000,
    p99_ms: at('p99 latency') / 1000,
    serverQueue_us: at('Server Queue'),
    serverComputeInput_us: at('Server Compute Input'),
    serverComputeInfer_us: at('Server Compute Infer'),
    serverComputeOutput_us: at('Server Compute Output'),
  };
}

/**
 * One perf_analyzer run: three time windows of seconds/3 each (stability not required, so it
 * stops after three), synchronous requests at `concurrency`, pinned to the client CPU.
 */
export async function perfAnalyzer({ cfg, pa, server, model, mode, concurrency, seconds, csv }) {
  const port = mode.protocol === 'http' ? server.http : server.grpc;
  const shapes = model.inputs.flatMap((t) => ['--shape', `${t.name}:${t.shape.join(',')}`]);
  const args = [
    ...['-c', String(cfg.clientCpu), pa.TESSERA_PERF_ANALYZER],
    ...['-m', model.name, '-i', mode.protocol, '-u', `127.0.0.1:${port}`],
    ...['--input-data', model.dataFile, ...shapes, ...mode.args],
    ...['--concurrency-range', String(concurrency)],
    ...['--measurement-mode', 'time_windows'],
    ...['--measurement-interval', String(Math.max(200, Math.round((seconds * 1000) / 3)))],
    // Any spread between windows is accepted: on a shared machine a window can be starved, and
    // perf_analyzer would otherwise exit without a result ("Failed to obtain stable measurement").
    ...['--stability-percentage', '100000', '--max-trials', '3'],
    ...(csv ? ['-f', csv] : []),
  ];
  const env = { ...process.env, LD_LIBRARY_PATH: pa.TESSERA_PERF_ANALYZER_LIBS };
  return run('taskset', args, { env, timeoutMs: (seconds + 120) * 1000 });
}

async function measureOnce(ctx, server, model, mode, concurrency) {
  const { cfg } = ctx;
  const csv = join(ctx.tmp, 'perf.csv');
  writeFileSync(csv, '');
  const others = ctx.servers.filter((s) => s !== server && !s.exited);
  const otherBefore = others.map((o) => treeCpuSeconds(o.pid));
  const coreBefore = cpuBusySeconds(cfg.serverCpu);
  const cpuBefore = treeCpuSeconds(server.pid);
  const started = process.hrtime.bigint();
  let result;
  try {
    await perfAnalyzer({ ...ctx, server, model, mode, concurrency, seconds: cfg.seconds, csv });
    result = { ...parsePerfCsv(readFileSync(csv, 'utf8')), errors: 0 };
  } catch (err) {
    result = { rps: NaN, errors: 1, errorDetail: lastLines(err.output, 3) || err.message };
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = treeCpuSeconds(server.pid) - cpuBefore;
  const idle = others.reduce((s, o, i) => s + treeCpuSeconds(o.pid) - otherBefore[i], 0);
  const foreign = Math.max(0, cpuBusySeconds(cfg.serverCpu) - coreBefore - cpu - idle);
  return {
    ...result,
    wallSeconds: wall,
    serverCpuUtil: cpu / wall,
    idleServersCpuUtil: idle / wall,
    foreignCpuUtil: foreign / wall,
  };
}

/** One scenario: a warm-up per server, then rounds, each measuring every server in a rotated order. */
async function measureScenario(ctx, { model, mode, concurrency, id }, log) {
  const { cfg, servers } = ctx;
  const rounds = Object.fromEntries(servers.map((s) => [s.name, []]));
  for (const server of cfg.warmup > 0 ? servers : []) {
    const seconds = cfg.warmup;
    // A failing path shows in the measured rounds, with its message.
    await perfAnalyzer({ ...ctx, server, model, mode, concurrency, seconds }).catch(
      () => undefined,
    );
  }
  for (let round = 0; round < cfg.rounds; round += 1) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const server of order) {
      const m = await measureOnce(ctx, server, model, mode, concurrency);
      m.round = round;
      rounds[server.name].push(m);
      const where = `${id} ${server.name} round ${round + 1}/${cfg.rounds}`;
      log(
        m.errors > 0
          ? `${where}: FAILED ${m.errorDetail}`
          : `${where}: ${m.rps.toFixed(0)} infer/s, p50 ${m.p50_ms.toFixed(3)} ms, p99 ${m.p99_ms.toFixed(3)} ms, server CPU ${(m.serverCpuUtil * 100).toFixed(0)}%`,
      );
    }
  }
  return rounds;
}

/** Every model × concurrency × path. */
async function measureAll(ctx, log) {
  const scenarios = ctx.models.flatMap((model) =>
    ctx.cfg.tritonConcurrency.flatMap((concurrency) =>
      MODES.map((mode) => ({
        model,
        mode,
        concurrency,
        id: `${model.name}-${mode.id}-c${concurrency}`,
      })),
    ),
  );
  const out = {};
  for (const sc of scenarios) {
    out[sc.id] = {
      model: sc.model.name,
      mode: sc.mode.id,
      concurrency: sc.concurrency,
      label: `${sc.model.label}, ${sc.mode.label}, c=${sc.concurrency}`,
      servers: await measureScenario(ctx, sc, log),
    };
  }
  return out;
}

/**
 * Provisions both peers, starts Triton and Tessera (parallel_workers 1 and 0, with
 * allow_client_shm), checks answers, measures; stops its servers. `startTessera` is run.mjs's.
 */
export async function compareWithTriton({ cfg, tmp, startTessera, track, log }) {
  const pa = await provisionPerfAnalyzer((m) => log(`perf_analyzer peer: ${m}`));
  const triton = await provisionTriton((m) => log(`triton peer: ${m}`));
  const repo = tesseraRepo(tmp);
  const servers = [];
  try {
    for (const pw of [1, 0]) {
      servers.push(
        await startTessera({
          name: `tessera-pw${pw}`,
          repo,
          model: 'identity',
          parallelWorkers: pw,
          env: { TESSERA_ALLOW_CLIENT_SHM: 'true' },
        }),
      );
    }
    servers.push(await startTriton({ cfg, tmp, triton, track, log }));
    const verification = await verify(servers, log);
    const list = models().map((m) => ({ ...m, dataFile: writeInputData(tmp, m) }));
    const measured = await measureAll({ cfg, tmp, pa, servers, models: list }, log);
    const { wrk } = await findWrk();
    const frontEnd = await measureFrontEnd({
      cfg,
      tmp,
      wrk,
      servers,
      simpleInputs: list[0].inputs,
      track,
      log,
    });
    const paVersion = (
      await run(pa.TESSERA_PERF_ANALYZER, ['--version'], {
        env: { ...process.env, LD_LIBRARY_PATH: pa.TESSERA_PERF_ANALYZER_LIBS },
        timeoutMs: 30_000,
      })
    ).trim();
    return {
      facts: {
        triton: servers.at(-1).version,
        pytriton: triton.pytriton,
        perfAnalyzer: paVersion,
        identityElements: IDENTITY_ELEMENTS,
      },
      verification,
      measured,
      frontEnd,
    };
  } finally {
    for (const s of servers) await stop(s);
  }
}
