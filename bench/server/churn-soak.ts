// Model-churn soak: the built server on loopback serves examples/models/iris under bounded
// inference load while the harness unloads and reloads it through the repository API, and samples
// the server's resident memory (VmRSS), thread count and open descriptors from /proc.
// A leak per load shows up as RSS that keeps rising after warm-up. The warm-up cycles come first
// (V8 grows the main thread's heap to the allocation rate during the first few hundred cycles,
// which is not a leak), then the measured ones; growth is measured from the end of warm-up.
//
// Usage: npm run bench:churn [-- --cycles 500 --warmup 500 --every 100 --clients 4 --workers 1]
// Extra server settings come from the environment (TESSERA_*, MALLOC_ARENA_MAX, …), which the
// server inherits. Exits 1 if a call failed or growth after warm-up reached --target percent.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RepositoryClient } from '../../contract/src/repository-client.js';
import { copyModels, startServer, type ServerProcess } from '../../test/support/server-process.js';

const { values: args } = parseArgs({
  options: {
    cycles: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '500' },
    every: { type: 'string', default: '100' },
    clients: { type: 'string', default: '4' },
    workers: { type: 'string', default: '1' },
    target: { type: 'string', default: '5' },
    'infers-per-cycle': { type: 'string', default: '20' },
  },
});
const CYCLES = positive('cycles');
const WARMUP = positive('warmup', true);
const EVERY = positive('every');
const CLIENTS = positive('clients', true);
const INFERS_PER_CYCLE = positive('infers-per-cycle', true);
const TARGET_PERCENT = Number(args.target);
const MODEL = 'iris';
// One iris row; the model answers a label and class probabilities.
const INFER_BODY = JSON.stringify({
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
});

function positive(name: keyof typeof args, zeroOk = false): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < (zeroOk ? 0 : 1)) {
    throw new Error(`--${name} must be an integer ≥ ${zeroOk ? 0 : 1}, got '${args[name] ?? ''}'`);
  }
  return value;
}

interface Sample {
  cycle: number;
  rssMiB: number;
  threads: number;
  fds: number;
  inferOk: number;
}

interface LoadCounters {
  ok: number;
  /** 503 while the model is unloaded: expected under churn. */
  notReady: number;
  failures: string[];
}

/**
 * Where clients wait while the model is unloaded (instead of spinning on 503s), and where the
 * churn loop waits for a few answers from each freshly loaded instance.
 */
class Gate {
  #loaded = deferred();
  #wanted: { count: number; resolve: () => void } | undefined;

  /** Resolves after the next load. */
  nextLoad(): Promise<void> {
    return this.#loaded.promise;
  }

  /** Called after a load: wakes waiting clients, then resolves after `count` more answers. */
  loaded(count: number, counters: LoadCounters): Promise<void> {
    const current = this.#loaded;
    this.#loaded = deferred();
    const wanted = deferred();
    this.#wanted = { count: counters.ok + count, resolve: wanted.resolve };
    current.resolve();
    this.answered(counters);
    return wanted.promise;
  }

  /** Called after every successful inference. */
  answered(counters: LoadCounters): void {
    if (this.#wanted !== undefined && counters.ok >= this.#wanted.count) {
      this.#wanted.resolve();
      this.#wanted = undefined;
    }
  }

  /** Releases everyone (end of the run). */
  open(): void {
    this.#loaded.resolve();
    this.#wanted?.resolve();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function procStatus(pid: number): { rssMiB: number; threads: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    if (match?.[1] === undefined) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { rssMiB: field('VmRSS') / 1024, threads: field('Threads') };
}

function sample(pid: number, cycle: number, load: LoadCounters): Sample {
  const { rssMiB, threads } = procStatus(pid);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { cycle, rssMiB, threads, fds, inferOk: load.ok };
}

/** Closed-loop inference clients that run until `stop` is set: the load stays bounded. */
async function inferenceLoad(
  url: string,
  counters: LoadCounters,
  stop: { done: boolean },
  gate: Gate,
): Promise<void> {
  const client = async (): Promise<void> => {
    while (!stop.done) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: INFER_BODY,
          signal: AbortSignal.timeout(20_000),
        });
        const text = await res.text();
        if (res.status === 200) {
          counters.ok++;
          gate.answered(counters);
        } else if (res.status === 503) {
          counters.notReady++;
          await gate.nextLoad();
        } else counters.failures.push(`infer answered ${res.status}: ${text.slice(0, 200)}`);
      } catch (error) {
        counters.failures.push(`infer failed: ${String(error)}`);
      }
      if (counters.failures.length > 20) return;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
}

async function churn(server: ServerProcess, load: LoadCounters, gate: Gate): Promise<Sample[]> {
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('server has no pid');
  const repository = new RepositoryClient(server.httpUrl, { timeoutMs: 60_000 });
  const samples = [sample(pid, 0, load)];
  const total = WARMUP + CYCLES;
  for (let cycle = 1; cycle <= total && load.failures.length === 0; cycle++) {
    await repository.unload(MODEL);
    await repository.load(MODEL);
    if (CLIENTS > 0) await gate.loaded(INFERS_PER_CYCLE, load);
    if (cycle % EVERY === 0 || cycle === WARMUP || cycle === total) {
      samples.push(sample(pid, cycle, load));
    }
  }
  return samples;
}

function growth(samples: readonly Sample[]): { base: Sample; last: Sample; percent: number } {
  const base = samples.find((s) => s.cycle === WARMUP) ?? samples[0];
  const last = samples.at(-1);
  if (base === undefined || last === undefined) throw new Error('no samples');
  return { base, last, percent: ((last.rssMiB - base.rssMiB) / base.rssMiB) * 100 };
}

function report(samples: readonly Sample[], load: LoadCounters, seconds: number): number {
  console.log(
    `\nModel churn: ${WARMUP} warm-up + ${CYCLES} measured unload/load cycles of '${MODEL}', ` +
      `${CLIENTS} inference clients, ` +
      `parallel_workers ${args.workers}, MALLOC_ARENA_MAX ${process.env['MALLOC_ARENA_MAX'] ?? 'unset'}, ` +
      `node ${process.version}, ${seconds.toFixed(0)} s\n`,
  );
  console.log('| cycle | RSS MiB | threads | open fds | inferences OK |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const s of samples) {
    console.log(`| ${s.cycle} | ${s.rssMiB.toFixed(1)} | ${s.threads} | ${s.fds} | ${s.inferOk} |`);
  }
  const g = growth(samples);
  const first = samples[0];
  console.log(
    `\nRSS ${first?.rssMiB.toFixed(1)} MiB at start, ${g.base.rssMiB.toFixed(1)} MiB after ` +
      `${g.base.cycle} warm-up cycles, ${g.last.rssMiB.toFixed(1)} MiB after ${g.last.cycle}: ` +
      `growth after warm-up ${g.percent.toFixed(1)} % (target < ${TARGET_PERCENT} %)`,
  );
  console.log(`inferences: ${load.ok} OK, ${load.notReady} answered 503 while unloaded`);
  for (const failure of load.failures.slice(0, 5)) console.error(`FAILED: ${failure}`);
  return load.failures.length === 0 && g.percent < TARGET_PERCENT ? 0 : 1;
}

async function main(): Promise<number> {
  const models = await copyModels(`examples/models/${MODEL}`);
  const server = await startServer({
    folder: models.dir,
    env: { TESSERA_PARALLEL_WORKERS: args.workers, TESSERA_LOG_LEVEL: 'info' },
  });
  const load: LoadCounters = { ok: 0, notReady: 0, failures: [] };
  const stop = { done: false };
  const gate = new Gate();
  const started = performance.now();
  const clients = inferenceLoad(`${server.httpUrl}/v2/models/${MODEL}/infer`, load, stop, gate);
  try {
    const samples = await churn(server, load, gate).finally(() => {
      stop.done = true;
      gate.open();
    });
    await clients;
    return report(samples, load, (performance.now() - started) / 1000);
  } finally {
    stop.done = true;
    gate.open();
    const code = await server.stop();
    await models.cleanup();
    if (code !== 0) console.error(`server exited with code ${String(code)}`);
  }
}

process.exitCode = await main();
