// bench/RESULTS.md's "## Server: Tessera vs Triton" section, from triton-compare.mjs's data.
import { f0, f2, f3, max, median, pct, spread } from './format.mjs';

export const TRITON_HEADING = 'Server: Tessera vs Triton';

const PAIRS = [
  ['tessera-pw1', 'triton', "Tessera's default (parallel_workers 1)"],
  ['tessera-pw0', 'triton', 'Tessera, parallel_workers 0 (main thread)'],
];

const ok = (rounds) => rounds.filter((r) => r.errors === 0);
const med = (rounds, key) => median(ok(rounds).map((r) => r[key]));

/** Round i of both servers ran back to back, so ratios are per round. */
function pairRatios(a, b, fn) {
  const out = [];
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
    if (a[i].errors === 0 && b[i].errors === 0) out.push(fn(a[i], b[i]));
  }
  return out;
}

function ratioRows(measured) {
  const rows = [];
  for (const s of Object.values(measured)) {
    for (const [t, p, note] of PAIRS) {
      const tr = s.servers[t];
      const pr = s.servers[p];
      if (!tr || !pr) continue;
      const rps = pairRatios(tr, pr, (a, b) => a.rps / b.rps);
      const p50 = pairRatios(tr, pr, (a, b) => b.p50_ms / a.p50_ms);
      const p99 = pairRatios(tr, pr, (a, b) => b.p99_ms / a.p99_ms);
      rows.push(
        `| ${s.label} | ${note} | ${f0(med(tr, 'rps'))} | ${f0(med(pr, 'rps'))} | **${rps.length ? spread(rps, f2) : 'failed'}** | ${f3(med(tr, 'p50_ms'))} / ${f3(med(tr, 'p99_ms'))} | ${f3(med(pr, 'p50_ms'))} / ${f3(med(pr, 'p99_ms'))} | ${f2(median(p50))} / ${f2(median(p99))} |`,
      );
    }
  }
  return rows;
}

function detailRows(measured) {
  const rows = [];
  for (const s of Object.values(measured)) {
    for (const [name, rounds] of Object.entries(s.servers)) {
      const good = ok(rounds);
      const errors = rounds.length - good.length;
      const detail = rounds.find((r) => r.errors > 0)?.errorDetail;
      rows.push(
        `| ${s.label} | ${name} | ${
          good.length
            ? spread(
                good.map((r) => r.rps),
                f0,
              )
            : '–'
        } | ${f3(med(rounds, 'p50_ms'))} | ${f3(med(rounds, 'p99_ms'))} | ${f0(med(rounds, 'serverQueue_us'))} / ${f0(med(rounds, 'serverComputeInput_us'))} / ${f0(med(rounds, 'serverComputeInfer_us'))} / ${f0(med(rounds, 'serverComputeOutput_us'))} | ${pct(median(rounds.map((r) => r.serverCpuUtil)))} | ${pct(median(rounds.map((r) => r.foreignCpuUtil)))} | ${errors === 0 ? '0' : `**${errors}**: ${String(detail).replaceAll('|', '/').replaceAll('\n', ' ')}`} |`,
      );
    }
  }
  return rows;
}

function foreign(measured) {
  const all = Object.values(measured).flatMap((s) =>
    Object.values(s.servers).flatMap((rounds) => rounds.map((r) => r.foreignCpuUtil)),
  );
  return { median: median(all), max: all.length ? max(all) : NaN };
}

/** The issue's target: Tessera ≥ 2× Triton's infer/s on `simple` at c=16 over REST and gRPC. */
function targetLines(measured) {
  const lines = [];
  for (const mode of ['http-json', 'http-binary', 'grpc']) {
    const s = measured[`simple-${mode}-c16`];
    if (!s?.servers.triton) continue;
    const best = Math.max(
      ...['tessera-pw1', 'tessera-pw0'].map((t) =>
        median(pairRatios(s.servers[t] ?? [], s.servers.triton, (a, b) => a.rps / b.rps)),
      ),
    );
    const verdict = best >= 2 ? 'met' : 'missed';
    lines.push(
      `${s.label.replace(/^simple, INT32 \[1,16\] ×2, /, '').replace(/, c=16$/, '')}: **${f2(best)}×** (${verdict})`,
    );
  }
  if (lines.length === 0) return [];
  return [
    `Target (issue 9): Tessera ≥ 2× Triton's throughput on \`simple\` (python backend) at c=16 over REST and gRPC; best Tessera variant ÷ Triton, median over rounds — ${lines.join('; ')}.`,
    '',
  ];
}

/** Best Tessera variant ÷ `peer`, median of per-round ratios of `key`-derived values. */
function bestRatio(route, peer, fn) {
  const variants = ['tessera-pw1', 'tessera-pw0'].filter((t) => route.servers[t]);
  if (!route.servers[peer] || variants.length === 0) return NaN;
  return Math.max(
    ...variants.map((t) => median(pairRatios(route.servers[t], route.servers[peer], fn))),
  );
}

const byRps = (a, b) => a.rps / b.rps;
const byCpu = (a, b) => b.cpuMicrosPerRequest / a.cpuMicrosPerRequest;

function frontEndTargets(frontEnd) {
  const r = frontEnd.routes;
  const line = (id, peer, target) => {
    const rps = bestRatio(r[id], peer, byRps);
    const cpu = bestRatio(r[id], peer, byCpu);
    return `\`${r[id].label}\`: **${f2(rps)}×** req/s, ${f2(cpu)}× per CPU-µs (target ${target}: ${rps >= target ? 'met' : 'missed'})`;
  };
  return [
    `- Tessera ÷ Triton on metadata and health (target ≥ 0.8×): ${['health', 'metadata']
      .filter((id) => r[id])
      .map((id) => line(id, 'triton', 0.8))
      .join('; ')}.`,
    `- Tessera ÷ the no-op fastify ceiling on inference (target ≥ 0.6): ${[
      'simple-json',
      'iris-json',
    ]
      .filter((id) => r[id])
      .map((id) => line(id, 'fastify-noop', 0.6))
      .join('; ')}.`,
    ...(r['simple-json']?.servers.triton
      ? [
          `- Tessera ÷ Triton on \`simple\` REST JSON under wrk (perf_analyzer's figures are above): **${f2(bestRatio(r['simple-json'], 'triton', byRps))}×** req/s, ${f2(bestRatio(r['simple-json'], 'triton', byCpu))}× per CPU-µs.`,
        ]
      : []),
  ];
}

function frontEndRows(frontEnd) {
  const rows = [];
  for (const route of Object.values(frontEnd.routes)) {
    for (const [name, rounds] of Object.entries(route.servers)) {
      const good = ok(rounds);
      const errors = rounds.length - good.length;
      rows.push(
        `| ${route.label} | ${name} | ${
          good.length
            ? spread(
                good.map((x) => x.rps),
                f0,
              )
            : '–'
        } | ${f0(med(rounds, 'cpuMicrosPerRequest'))} | ${f3(med(rounds, 'p50_ms'))} / ${f3(med(rounds, 'p99_ms'))} | ${pct(median(rounds.map((x) => x.serverCpuUtil)))} | ${pct(median(rounds.map((x) => x.foreignCpuUtil)))} | ${errors === 0 ? '0' : `**${errors}**`} |`,
      );
    }
  }
  return rows;
}

function frontEndLines(frontEnd) {
  if (!frontEnd) return [];
  return [
    `### Front end: routes under wrk, c=${frontEnd.concurrency}`,
    '',
    `The same servers, plus \`fastify-noop\` (bench/server/noop-server.mjs: Tessera's fastify answering each route with a fixed copy of Tessera's answer, its JSON body parser still reading every POST), pinned to the same CPU and loaded by \`wrk -t1 -c${frontEnd.concurrency}\` in rotated rounds. Triton serves no \`iris\`. CPU µs per request = the server's process-tree CPU time over the round ÷ its answered requests, which other load on the machine disturbs less than req/s.`,
    '',
    ...frontEndTargets(frontEnd),
    '',
    '| Route | Server | req/s median (min–max) | server CPU µs / request | p50 / p99 ms | server CPU | other load on server CPU | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...frontEndRows(frontEnd),
    '',
  ];
}

export function tritonSection(data) {
  const { config: c, facts: f, verification: v, measured } = data;
  const quick = c.seconds < 10 || c.rounds < 3;
  const envs = [
    `BENCH_SECONDS=${c.seconds}`,
    `BENCH_ROUNDS=${c.rounds}`,
    `BENCH_WARMUP_SECONDS=${c.warmup}`,
    `BENCH_TRITON_CONCURRENCY=${c.tritonConcurrency.join(',')}`,
    ...(c.mlserver ? [] : ['BENCH_MLSERVER=0']),
  ];
  const load = foreign(measured);
  return [
    `## ${TRITON_HEADING}`,
    '',
    `Generated by \`${envs.join(' ')} npm run bench:server\` on ${data.date} (commit ${f.commit})${quick ? ', **quick mode** (fewer or shorter rounds than the defaults of 10 s × 3 rounds after a 5 s warm-up): read the ratios as indicative' : ''}. Harness: \`bench/server/triton-compare.mjs\` (see bench/server/README.md); \`BENCH_TRITON=0\` skips it.`,
    '',
    '### Machine and peers',
    '',
    '| nproc | CPU | kernel | load average before the run | Node | onnxruntime-node | Triton | load generator |',
    '|---|---|---|---|---|---|---|---|',
    `| ${f.nproc} | ${f.cpuModel} | ${f.kernel} | ${f.loadAverage1m} | ${f.node} | ${f.onnxruntimeNode} | ${f.triton} (\`tritonserver\` of nvidia-pytriton ${f.pytriton}, CPU, python backend) | ${f.perfAnalyzer} (tritonclient 2.40.0 wheel) |`,
    '',
    '### Setup',
    '',
    `- Servers: Tessera with \`parallel_workers\` 1 (default) and 0, \`allow_client_shm\` on, serving the ONNX models \`examples/models/simple\` and \`bench/server/models/identity\`; Triton \`tritonserver\` standalone (\`--model-control-mode explicit\`, metrics off, no pinned memory), serving python-backend twins from \`bench/server/models/triton\` (one CPU instance each, no batching, \`max_batch_size\` 0 on both). All three are up for the whole comparison, pinned to CPU ${c.serverCpu} with \`taskset\`, on 127.0.0.1; perf_analyzer runs on CPU ${c.clientCpu}.`,
    `- Models: \`simple\` (INT32 INPUT0, INPUT1 [1,16] → OUTPUT0 = sum, OUTPUT1 = difference) and \`identity\` (FP32 INPUT0 [1,${f.identityElements}] → OUTPUT0). Answer check before measuring: ${v.servers.join(', ')} returned the expected outputs, exactly, over ${v.paths.join(' and ')}.`,
    `- Load: perf_analyzer, synchronous closed loop at each concurrency, \`--input-data\` with the answer check's tensors (its random FP32 data would put NaN into JSON bodies), three time windows of ${f0((c.seconds * 1000) / 3)} ms per measurement with stability not required; throughput and p50/p99 from its CSV (\`-f\`). Paths: HTTP JSON (\`--input-tensor-format json --output-tensor-format json\`), HTTP binary extension (its default), gRPC raw contents, and \`--shared-memory system\` over HTTP and gRPC. Per scenario a warm-up of ${c.warmup} s per server, then ${c.rounds} round(s), each measuring every server once in an order rotated per round.`,
    '- A failed perf_analyzer run (non-zero exit) is recorded with its message and fails the command.',
    '',
    '### Tessera / Triton',
    '',
    'Throughput ratio = Tessera infer/s ÷ Triton infer/s (> 1: Tessera faster), median (min–max) over rounds. Latency speed-up = Triton latency ÷ Tessera latency (> 1: Tessera faster).',
    '',
    ...targetLines(measured),
    '| Scenario | Tessera | Tessera infer/s | Triton infer/s | Throughput ratio | Tessera p50 / p99 ms | Triton p50 / p99 ms | Latency speed-up p50 / p99 |',
    '|---|---|---|---|---|---|---|---|',
    ...ratioRows(measured),
    '',
    '### Per server',
    '',
    "Server-side times are perf_analyzer's averages from each server's statistics extension (µs per request: queue / compute input / compute infer / compute output). Server CPU is the server's process tree over the whole perf_analyzer run, start-up included.",
    '',
    '| Scenario | Server | infer/s median (min–max) | p50 ms | p99 ms | server queue / input / infer / output µs | server CPU | other load on server CPU | errors |',
    '|---|---|---|---|---|---|---|---|---|',
    ...detailRows(measured),
    '',
    ...frontEndLines(data.frontEnd),
    '### Caveats',
    '',
    `- Shared machine: ${f.nproc} CPUs, one for the servers and one for perf_analyzer, and other programs (not pinned by us) used a median ${pct(load.median)} and at most ${pct(load.max)} of the server CPU during a measurement; the load average was ${f.loadAverage1m} before the run. Ratios are paired per round, which cancels slow drifts but not bursts.`,
    "- Triton's python backend runs the model in a separate stub process and moves tensors through its own shared memory, so Triton's compute times include that hand-off; this is the front end plus python backend that the issue's targets name, not Triton's C++ backends (none ship in nvidia-pytriton).",
    "- Under foreign load the scheduler shares the server CPU per runnable thread, not per server: Triton's front end runs many threads (HTTP and gRPC pools, the python stub process), Tessera's requests pass through one event-loop thread (and one worker thread with `parallel_workers` 1), so a busy machine likely takes a larger share from Tessera; compare the server CPU and other-load columns before reading a ratio.",
    '- The idle servers share the server CPU with the measured one; closed loop, no coordinated-omission correction; one run.',
    '',
  ].join('\n');
}
