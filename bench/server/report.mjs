// Turns the measurements into bench/RESULTS.md's "## Server" and "## Server: Tessera vs Triton"
// sections (other sections of the file, such as the operator's, are kept; a part that was skipped
// keeps its previous section) and bench/server/last-run.json (raw rounds, no local paths; the
// Triton comparison under `triton`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { f0, f2, f3, max, median, pct, spread } from './format.mjs';
import { TRITON_HEADING, tritonSection } from './triton-report.mjs';

const PAIRS = [
  ['tessera-pw1', 'mlserver-pw1', 'defaults: parallel_workers 1 on both'],
  ['tessera-pw0', 'mlserver-pw0', 'parallel_workers 0 on both (in-process inference)'],
  ['tessera-pw0', 'mlserver-pw1', "Tessera's fastest vs MLServer's default"],
  [
    'tessera-pw1',
    'mlserver-tuned',
    "Tessera's default vs MLServer tuned for throughput (parallel_workers 1 = its cores, adaptive batching 16 / 2 ms)",
  ],
];

function pairRows(measured) {
  const rows = [];
  for (const s of Object.values(measured)) {
    for (const [t, m, note] of PAIRS) {
      const tr = s.servers[t];
      const mr = s.servers[m];
      if (!tr || !mr) continue;
      const n = Math.min(tr.length, mr.length);
      const idx = [...Array(n).keys()];
      const ratio = idx.map((i) => tr[i].rps / mr[i].rps);
      const cpuRatio = idx.map((i) => tr[i].requestsPerCpuSecond / mr[i].requestsPerCpuSecond);
      const p50 = idx.map((i) => mr[i].p50_ms / tr[i].p50_ms);
      const p99 = idx.map((i) => mr[i].p99_ms / tr[i].p99_ms);
      rows.push(
        `| ${s.label} | ${t} / ${m} (${note}) | ${f0(median(tr.map((r) => r.rps)))} | ${f0(median(mr.map((r) => r.rps)))} | **${spread(ratio, f2)}** | ${spread(cpuRatio, f2)} | ${f3(median(tr.map((r) => r.p50_ms)))} / ${f3(median(tr.map((r) => r.p99_ms)))} | ${f3(median(mr.map((r) => r.p50_ms)))} / ${f3(median(mr.map((r) => r.p99_ms)))} | ${f2(median(p50))} / ${f2(median(p99))} |`,
      );
    }
  }
  return rows;
}

/** Best Tessera variant ÷ an MLServer variant, median of per-round req/s ratios. */
function bestOver(s, mlserver) {
  const ml = s?.servers[mlserver];
  if (!ml) return NaN;
  const ratios = ['tessera-pw1', 'tessera-pw0']
    .map((t) => s.servers[t])
    .filter(Boolean)
    .map((t) => median(t.slice(0, ml.length).map((r, i) => r.rps / ml[i].rps)));
  return ratios.length ? Math.max(...ratios) : NaN;
}

/** The issue's target: REST and gRPC ≥ 10× MLServer on the small model at c=16. */
function mlTargets(measured) {
  const items = [];
  for (const [id, what] of [
    ['rest-c16', 'REST JSON'],
    ['grpc-c16', 'gRPC raw'],
  ]) {
    if (!measured[id]) continue;
    const d = bestOver(measured[id], 'mlserver-pw1');
    const t = bestOver(measured[id], 'mlserver-tuned');
    items.push(
      `${what} **${f2(d)}×** MLServer's defaults (${d >= 10 ? 'met' : 'missed'}), **${f2(t)}×** MLServer tuned (${t >= 10 ? 'met' : 'missed'})`,
    );
  }
  if (items.length === 0) return [];
  return [
    `Target (issue 9): Tessera ≥ 10× MLServer's req/s at c=16 over REST and gRPC; best Tessera variant ÷ MLServer, median over rounds — ${items.join('; ')}.`,
    '',
  ];
}

function detailRow(label, name, rounds) {
  const eld = rounds.map((r) => r.eventLoopDelay?.p99_ms).filter((x) => x !== undefined);
  const errors = rounds.reduce((s, r) => s + r.errors, 0);
  return `| ${label} | ${name} | ${spread(
    rounds.map((r) => r.rps),
    f0,
  )} | ${f3(median(rounds.map((r) => r.p50_ms)))} | ${f3(median(rounds.map((r) => r.p99_ms)))} | ${pct(median(rounds.map((r) => r.serverCpuUtil)))} | ${f0(median(rounds.map((r) => r.requestsPerCpuSecond)))} | ${pct(median(rounds.map((r) => r.clientCpuUtil)))} | ${eld.length ? f2(median(eld)) : 'n/a'} | ${pct(median(rounds.map((r) => r.foreignCpuUtil ?? 0)))} | ${errors === 0 ? '0' : `**${errors}**`} |`;
}

function detailRows(measured) {
  const rows = [];
  for (const s of Object.values(measured)) {
    for (const [name, rounds] of Object.entries(s.servers))
      rows.push(detailRow(s.label, name, rounds));
  }
  return rows;
}

function sweepRows(sweep) {
  const rows = Object.values(sweep.modes).map((m) => {
    const bytes = m.label.startsWith('REST JSON')
      ? sweep.requestBytes.json
      : sweep.requestBytes.binary;
    const r = m.rounds;
    const cpuUs = median(r.map((x) => (x.serverCpuSeconds * 1e6) / x.requests));
    return `| ${m.label}, c=${m.concurrency} | ${bytes} B | ${spread(
      r.map((x) => x.rps),
      f0,
    )} | ${f3(median(r.map((x) => x.p50_ms)))} / ${f3(median(r.map((x) => x.p99_ms)))} | ${f0(median(r.map((x) => x.serverTime_us)))} | ${f0(cpuUs)} | ${pct(median(r.map((x) => x.serverCpuUtil)))} | ${pct(median(r.map((x) => x.foreignCpuUtil ?? 0)))} | ${r.reduce((s, x) => s + x.errors, 0)} |`;
  });
  for (const [protocol, r] of Object.entries(sweep.sharedMemory ?? {})) {
    rows.push(
      `| ${protocol === 'http' ? 'HTTP' : 'gRPC'}, system shared memory (perf_analyzer), c=1 | names and offsets only | ${spread(
        r.map((x) => x.rps),
        f0,
      )} | ${f3(median(r.map((x) => x.p50_ms)))} / ${f3(median(r.map((x) => x.p99_ms)))} | ${f0(median(r.map((x) => x.serverTime_us)))} | – | ${pct(median(r.map((x) => x.serverCpuUtil)))} | – | 0 |`,
    );
  }
  return rows;
}

/** The issue's server-time targets for the 65,536-element request, at c=1. */
function sweepTargets(sweep) {
  const at = (key) => median((sweep.modes[key]?.rounds ?? []).map((x) => x.serverTime_us));
  const cpuAt = (key) =>
    median((sweep.modes[key]?.rounds ?? []).map((x) => (x.serverCpuSeconds * 1e6) / x.requests));
  const shm = Math.max(
    ...Object.values(sweep.sharedMemory ?? {}).map((r) => median(r.map((x) => x.serverTime_us))),
  );
  const verdict = (us, limitMs) => (us <= limitMs * 1000 ? 'met' : 'missed');
  // Judged on the larger of the two: the statistics leave out what happens before the core (the
  // JSON parse of a 1.3 MB body) and after it (writing the answer), the CPU time leaves out nothing.
  const item = (label, key, limitMs) =>
    `${label} ${f0(at(key))} µs server time, ${f0(cpuAt(key))} µs server CPU per request (target ≤ ${limitMs} ms: ${verdict(Math.max(at(key), cpuAt(key)), limitMs)})`;
  return [
    `Targets (issue 9), c=1, server time from the statistics extension (queue + compute input + infer + output) and the server's whole CPU time per request (HTTP parsing and writing, and V8's collector threads, included), judged on the larger: ${[
      item('binary extension', 'binary-c1', 1),
      item('raw gRPC', 'grpc-c1', 1),
      item('JSON', 'json-c1', 8),
    ].join(
      '; ',
    )}; shared memory ${f0(shm)} µs server time, the slower of HTTP and gRPC (target ≤ 0.2 ms: ${verdict(shm, 0.2)}).`,
    '',
  ];
}

function maxIdle(measured) {
  let most = 0;
  for (const s of Object.values(measured)) {
    for (const rounds of Object.values(s.servers))
      for (const r of rounds) most = Math.max(most, r.idleServersCpuSeconds / r.seconds);
  }
  return most;
}

function foreignLoad(measured) {
  const all = [];
  for (const s of Object.values(measured)) {
    for (const rounds of Object.values(s.servers))
      for (const r of rounds) all.push(r.foreignCpuUtil ?? 0);
  }
  return { median: median(all), max: all.length ? max(all) : NaN };
}

function maxClient(measured) {
  let most = { util: 0, where: '' };
  for (const s of Object.values(measured)) {
    for (const [name, rounds] of Object.entries(s.servers)) {
      const u = median(rounds.map((r) => r.clientCpuUtil));
      if (u > most.util) most = { util: u, where: `${s.label}, ${name}` };
    }
  }
  return most;
}

function section(data) {
  const { config: c, facts: f, verification: v, measured, sweep } = data;
  const envs = [
    `BENCH_SECONDS=${c.seconds}`,
    `BENCH_ROUNDS=${c.rounds}`,
    `BENCH_WARMUP_SECONDS=${c.warmup}`,
  ];
  const client = maxClient(measured);
  const lines = [
    '## Server',
    '',
    `Generated by \`${envs.join(' ')} npm run bench:server\` on ${data.date} (commit ${f.commit}); the`,
    'defaults are 10 s × 3 rounds after a 5 s warm-up. Harness: `bench/server/` (see its README).',
    '',
    '### Machine',
    '',
    '| nproc | CPU | kernel | Node | Python | MLServer | onnxruntime-node | load generator |',
    '|---|---|---|---|---|---|---|---|',
    `| ${f.nproc} | ${f.cpuModel} | ${f.kernel} | ${f.node} | ${f.python} | ${f.mlserver} | ${f.onnxruntimeNode} | ${f.wrk}; grpc-js closed-loop client |`,
    '',
    '### Setup',
    '',
    `- Every server process (tree) is pinned to CPU ${c.serverCpu} with \`taskset\`; the harness, \`wrk -t1\` and the gRPC client to CPU ${c.clientCpu}. All servers are up for the whole run, listen on 127.0.0.1 only, and are measured one at a time; in round *i* every server is measured once (order rotated per round), so ratios are computed per round and reported as median (min–max over rounds).`,
    '- Model: scikit-learn `LogisticRegression(max_iter=1000, random_state=20240607)` on `load_iris()` (float32), scikit-learn 1.9.1 — joblib for MLServer (`mlserver_sklearn.SKLearnModel`, trained at bench time), the committed `examples/models/iris/model.onnx` (skl2onnx of the same training) for Tessera.',
    `- Label check before measuring: all servers returned ${JSON.stringify(v.labels)} for ${v.rows.length} iris rows over REST JSON and gRPC raw contents, equal to scikit-learn's \`predict\`.`,
    '- Request: one `[1,4]` FP32 row. REST: JSON body; Tessera asks for `outputs: [{"name": "label"}]` (its ONNX model also has `probabilities`), MLServer returns its default `predict` output. gRPC: `raw_input_contents`, one HTTP/2 channel, as many calls in flight as the scenario has clients.',
    '- MLServer settings: defaults apart from host/ports (`parallel_workers` 1 = one inference-pool worker process, the default; and 0 = inference in the main process). `mlserver-tuned` follows Seldon’s performance-tuning guide for throughput: `parallel_workers` equal to its CPU cores (1 here) and adaptive batching sized to the load (`max_batch_size` 16, `max_batch_time` 0.002 s). Tessera: defaults apart from host/ports, `parallel_workers` 1 (one worker thread per model) and 0 (main thread). Both keep their default logging; their output goes to a file.',
    '- Errors: wrk socket errors, timeouts (5 s) and non-2xx/3xx responses, and failed gRPC calls; any is a failed run (the command exits 1).',
    '',
    '### Tessera / MLServer',
    '',
    'Throughput ratio = Tessera req/s ÷ MLServer req/s (> 1: Tessera faster). CPU-normalised = (requests per server CPU-second) ratio. Latency speed-up = MLServer latency ÷ Tessera latency (> 1: Tessera faster).',
    '',
    ...mlTargets(measured),
    '| Scenario | Pair | Tessera req/s | MLServer req/s | Throughput ratio, median (min–max) | CPU-normalised ratio | Tessera p50 / p99 ms | MLServer p50 / p99 ms | Latency speed-up p50 / p99 |',
    '|---|---|---|---|---|---|---|---|---|',
    ...pairRows(measured),
    '',
    '### Per server',
    '',
    '| Scenario | Server | req/s median (min–max) | p50 ms | p99 ms | server CPU | requests per CPU-s | client CPU | event-loop delay p99 ms | other load on server CPU | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...detailRows(measured),
    '',
  ];
  if (sweep) {
    lines.push(
      `### Payload sweep (Tessera only, ${sweep.elements.toLocaleString('en-US')} FP32 elements)`,
      '',
      `Model \`bench/server/models/scale-fp32\` (y = 2·x, FP32 [-1,-1]), input and output [1, ${sweep.elements}], Tessera \`parallel_workers\` 1. JSON request ${sweep.requestBytes.json} B, binary-extension request ${sweep.requestBytes.binary} B (the JSON header plus raw little-endian bytes, \`Inference-Header-Content-Length\`, output asked as binary); gRPC sends \`raw_input_contents\`.`,
      '',
      ...sweepTargets(sweep),
      '| Path | request | req/s median (min–max) | p50 / p99 ms | server time µs | server CPU µs / request | server CPU | other load on server CPU | errors |',
      '|---|---|---|---|---|---|---|---|---|',
      ...sweepRows(sweep),
      '',
    );
  }
  lines.push(
    '### Caveats',
    '',
    `- ${f.nproc} CPUs: one for the server, one for the load generators. The busiest client CPU (median) was ${pct(client.util)} (${client.where}); near 100 % the load generator, not the server, limits req/s, and the ratio understates the faster server.`,
    `- Idle servers share CPU ${c.serverCpu} with the measured one; their CPU use during any round was at most ${pct(maxIdle(measured))} of a CPU.`,
    `- Other programs on this machine (not pinned by us) used a median ${pct(foreignLoad(measured).median)} and at most ${pct(foreignLoad(measured).max)} of the server CPU during a round (/proc/stat busy time minus our servers' CPU). Rounds with high values are the low outliers in the min–max spreads.`,
    '- MLServer with `parallel_workers` 1 runs two processes on the one pinned CPU (the HTTP/gRPC front end and the inference worker), as Tessera with `parallel_workers` 1 runs its worker thread on the same CPU; neither gets a second core.',
    '- Closed loop (wrk, grpc-js client): latency percentiles are not corrected for coordinated omission. wrk has no per-status check beyond counting status ≥ 400.',
    '- The gRPC client is grpc-js on one CPU; for the faster server it may be the limit (see client CPU).',
    "- Event-loop delay: `perf_hooks.monitorEventLoopDelay` (10 ms resolution) in Tessera's main thread, preloaded by the harness (`bench/server/eld-preload.mjs`), reset before and read after each round; not available for MLServer.",
    '- Tail latency (p99) includes preemption by the idle servers and the OS on the shared server CPU; compare p50 for per-request cost.',
    '- One machine, one run: treat differences under ~10 % between rounds as noise.',
    '',
  );
  return lines.join('\n');
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Start and end offsets of the `## <heading>` section of `text` (up to the next `## `). */
function sectionBounds(text, heading) {
  const start = text.search(new RegExp(`^## ${escapeRegExp(heading)}\\s*$`, 'm'));
  if (start < 0) return undefined;
  const next = text.slice(start + 1).search(/^## (?!#)/m);
  return { start, end: next < 0 ? text.length : start + 1 + next };
}

/**
 * Replaces the `## <heading>` section of `existing`; a new one goes right after the `## <after>`
 * section when there is one, else at the end.
 */
export function merge(existing, heading, sectionText, after) {
  if (!existing) return `# Benchmark results\n\n${sectionText}`;
  const own = sectionBounds(existing, heading);
  const prev = own ? undefined : after && sectionBounds(existing, after);
  if (!own && !prev) return `${existing.trimEnd()}\n\n${sectionText}`;
  const [start, end] = own ? [own.start, own.end] : [prev.end, prev.end];
  const head = own ? existing.slice(0, start) : `${existing.slice(0, start).trimEnd()}\n\n`;
  const tail = existing.slice(end);
  return `${head}${sectionText}${tail ? `\n${tail}` : ''}`;
}

/** JSON as the repository's Prettier would print it, so `npm run format:check` stays clean. */
async function prettyJson(value) {
  const text = JSON.stringify(value, null, 2);
  try {
    const prettier = await import('prettier');
    return await prettier.format(text, { parser: 'json', printWidth: 100 });
  } catch {
    return `${text}\n`;
  }
}

export const DENSITY_HEADING = 'Server: model density and load latency';

const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

function densitySection(data) {
  const { config: c, facts: f, runs, counts, warmReloads } = data;
  const max = Math.max(...counts);
  const rows = runs.map(
    (r) =>
      `| ${r.parallelWorkers} | ${mib(r.baselineBytes)} | ${counts.map((n) => mib(r.rssBytes[n])).join(' | ')} | ${mib(r.perModelBytes)} | **${f0(r.modelsPerGiB)}** (${r.modelsPerGiB >= 200 ? 'met' : 'missed'}) | ${f0(r.firstLoadMs)} | ${f2(r.coldLoadMs)} (max ${f0(r.coldLoadMaxMs)}) | ${f2(r.warmLoadMs)} |`,
  );
  return [
    `## ${DENSITY_HEADING}`,
    '',
    `Generated by \`npm run bench:server\` on ${data.date} (commit ${f.commit}; \`BENCH_DENSITY=0\` skips it). Harness: \`bench/server/density.mjs\`. One Tessera process per row, pinned to CPU ${c.serverCpu}, started with \`load_models_at_startup\` false on a repository of ${max} copies of \`examples/models/iris\` (ONNX, ${f.onnxruntimeNode === undefined ? '' : `onnxruntime-node ${f.onnxruntimeNode}, `}Node ${f.node}); the harness loads them one by one through \`POST /v2/repository/models/{name}/load\` and reads the VmRSS of the server's process tree from /proc one second after the 1st, ${counts.slice(1, -1).join(', ')}${counts.length > 2 ? 'th' : ''} and ${max}th load. Every copy then answers one inference (all the same label), and the first ${warmReloads} are unloaded and loaded again (warm load). Load latency is the repository call's round trip as the client sees it.`,
    '',
    `Target (issue 9): ≥ 200 small ONNX models per GiB of RSS, from (RSS at ${max} − RSS empty) ÷ ${max}.`,
    '',
    `| parallel_workers | RSS empty MiB | ${counts.map((n) => `RSS at ${n} MiB`).join(' | ')} | MiB per model | models per GiB | first load ms (process cold) | cold load ms, median | warm reload ms, median |`,
    `|---|---|${counts.map(() => '---|').join('')}---|---|---|---|---|`,
    ...rows,
    '',
  ].join('\n');
}

export async function writeReport({ server, triton, density, resultsPath, jsonPath }) {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  let text = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
  let json = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : {};
  const results = relative(process.cwd(), resultsPath);
  if (server) {
    server.date ??= date;
    text = merge(text, 'Server', section(server));
    json = {
      ...server,
      config: { ...server.config, results },
      triton: json.triton,
      density: json.density,
    };
  }
  if (triton) {
    triton.date ??= date;
    text = merge(text, TRITON_HEADING, tritonSection(triton), 'Server');
    json.triton = { ...triton, config: { ...triton.config, results } };
  }
  if (density) {
    density.date ??= date;
    text = merge(text, DENSITY_HEADING, densitySection(density), TRITON_HEADING);
    json.density = density;
  }
  writeFileSync(resultsPath, text);
  writeFileSync(jsonPath, await prettyJson(json));
}
