// Model density and load latency: one Tessera process, started with no model loaded
// (load_models_at_startup false), loads copies of the small iris ONNX model one by one through the
// repository API; its RSS is read after 1, 10 and 100 models, every copy answers one inference,
// and some are unloaded and loaded again (warm: the artifact in the page cache, the engine threads
// already started). Run for `parallel_workers` 1 (the default) and 0.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './format.mjs';
import { processTree, stop } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export const DENSITY_COUNTS = [1, 10, 100];
const WARM_RELOADS = 10;
const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];

/** A repository of `n` copies of examples/models/iris named iris-000, iris-001, … */
function writeRepository(dir, n) {
  for (let i = 0; i < n; i += 1) {
    const name = `iris-${String(i).padStart(3, '0')}`;
    mkdirSync(join(dir, name), { recursive: true });
    copyFileSync(
      join(root, 'examples', 'models', 'iris', 'model.onnx'),
      join(dir, name, 'model.onnx'),
    );
    writeFileSync(
      join(dir, name, 'model-settings.json'),
      JSON.stringify({ name, implementation: 'onnx', parameters: { uri: './model.onnx' } }),
    );
  }
}

/** Resident memory of the process tree, in bytes (VmRSS of each process). */
function rssBytes(pid) {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kib += m ? Number(m[1]) : 0;
    } catch {
      // exited
    }
  }
  return kib * 1024;
}

async function post(url, body) {
  const started = process.hrtime.bigint();
  const res = await fetch(url, {
    method: 'POST',
    ...(body
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}: ${text}`);
  return { ms, text };
}

async function inferLabel(base, name) {
  const { text } = await post(`${base}/v2/models/${name}/infer`, {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: IRIS_ROW }],
    outputs: [{ name: 'label' }],
  });
  return Number(JSON.parse(text).outputs[0].data[0]);
}

/** Settles the heap and RSS: a short pause after the last load, so lazy frees have happened. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

async function measureOne({ tmp, startTessera, log }, parallelWorkers) {
  const max = Math.max(...DENSITY_COUNTS);
  const repo = join(tmp, `density-repo-pw${parallelWorkers}`);
  writeRepository(repo, max);
  const server = await startTessera({
    name: `tessera-density-pw${parallelWorkers}`,
    repo,
    readyPath: '/v2/health/ready',
    parallelWorkers,
    env: { MLSERVER_LOAD_MODELS_AT_STARTUP: 'false' },
  });
  const base = `http://127.0.0.1:${server.http}`;
  try {
    await settle();
    const baseline = rssBytes(server.pid);
    const loads = [];
    const rss = {};
    for (let i = 0; i < max; i += 1) {
      const name = `iris-${String(i).padStart(3, '0')}`;
      loads.push((await post(`${base}/v2/repository/models/${name}/load`)).ms);
      if (DENSITY_COUNTS.includes(i + 1)) {
        await settle();
        rss[i + 1] = rssBytes(server.pid);
      }
    }
    const labels = [];
    for (let i = 0; i < max; i += 1)
      labels.push(await inferLabel(base, `iris-${String(i).padStart(3, '0')}`));
    if (!labels.every((l) => l === labels[0])) {
      throw new Error(`the ${max} copies of iris disagree on one row: ${JSON.stringify(labels)}`);
    }
    const warm = [];
    for (let i = 0; i < WARM_RELOADS; i += 1) {
      const name = `iris-${String(i).padStart(3, '0')}`;
      await post(`${base}/v2/repository/models/${name}/unload`);
      warm.push((await post(`${base}/v2/repository/models/${name}/load`)).ms);
    }
    const perModel = (rss[max] - baseline) / max;
    const result = {
      parallelWorkers,
      baselineBytes: baseline,
      rssBytes: rss,
      perModelBytes: perModel,
      modelsPerGiB: perModel > 0 ? 2 ** 30 / perModel : Infinity,
      firstLoadMs: loads[0],
      coldLoadMs: median(loads.slice(1)),
      coldLoadMaxMs: Math.max(...loads.slice(1)),
      warmLoadMs: median(warm),
      label: labels[0],
    };
    log(
      `density pw${parallelWorkers}: RSS ${(baseline / 2 ** 20).toFixed(0)} MiB empty, ${DENSITY_COUNTS.map((n) => `${(rss[n] / 2 ** 20).toFixed(0)} MiB at ${n}`).join(', ')}; ${(perModel / 2 ** 20).toFixed(2)} MiB per model; load first ${result.firstLoadMs.toFixed(0)} ms, cold median ${result.coldLoadMs.toFixed(1)} ms, warm median ${result.warmLoadMs.toFixed(1)} ms`,
    );
    return result;
  } finally {
    await stop(server);
  }
}

/** Both `parallel_workers` settings; `startTessera` is run.mjs's. */
export async function measureDensity(ctx) {
  const out = [];
  for (const pw of [1, 0]) out.push(await measureOne(ctx, pw));
  return { counts: DENSITY_COUNTS, warmReloads: WARM_RELOADS, runs: out };
}
