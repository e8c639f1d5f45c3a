// The front-end comparison inside the Triton one: the same HTTP routes driven by wrk at one
// concurrency on Tessera (parallel_workers 1 and 0), Triton 2.51 and a no-op fastify server
// (bench/server/noop-server.mjs, the ceiling of a Node HTTP server doing no work per request).
// Routes: health, model metadata, and REST JSON inference of `simple` and `iris`. It answers the
// issue's targets on metadata and health (≥ 0.8× Triton's C++ front end) and on infer (≥ 0.6 of
// the no-op ceiling), and measures server CPU per request, which on a shared machine is steadier
// than req/s.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWrk, writeWrkGetScript, writeWrkScript } from './load.mjs';
import {
  cpuBusySeconds,
  freePort,
  startPinned,
  stop,
  treeCpuSeconds,
  waitReady,
} from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export const FRONT_END_CONCURRENCY = 16;

const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];

/** The routes; `triton: false` where Triton serves no such model. */
function routes(simpleInputs) {
  return [
    { id: 'health', label: 'GET /v2/health/ready', method: 'GET', path: '/v2/health/ready' },
    { id: 'metadata', label: 'GET /v2/models/simple', method: 'GET', path: '/v2/models/simple' },
    {
      id: 'simple-json',
      label: 'POST /v2/models/simple/infer, JSON INT32 [1,16] ×2',
      method: 'POST',
      path: '/v2/models/simple/infer',
      body: {
        inputs: simpleInputs.map(({ name, datatype, shape, values }) => ({
          name,
          datatype,
          shape,
          data: values,
        })),
      },
    },
    {
      id: 'iris-json',
      label: 'POST /v2/models/iris/infer, JSON FP32 [1,4]',
      method: 'POST',
      path: '/v2/models/iris/infer',
      body: {
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: IRIS_ROW }],
        outputs: [{ name: 'label' }],
      },
      triton: false,
    },
  ];
}

/** Tessera's real answers become the no-op server's fixed bodies: same shape, same size. */
async function tesseraAnswers(tessera, list) {
  const answers = {};
  for (const route of list) {
    const res = await fetch(`http://127.0.0.1:${tessera.http}${route.path}`, {
      method: route.method,
      ...(route.body
        ? { body: JSON.stringify(route.body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    if (res.status !== 200) {
      throw new Error(
        `${tessera.name} answered ${route.path} with ${res.status}: ${await res.text()}`,
      );
    }
    answers[route.method === 'POST' ? `POST ${route.path}` : route.path] = await res.json();
  }
  return answers;
}

async function startNoop({ cfg, tmp, answers, track, log }) {
  const port = await freePort();
  const answersFile = join(tmp, 'noop-answers.json');
  writeFileSync(answersFile, JSON.stringify(answers));
  const handle = startPinned({
    name: 'fastify-noop',
    cpu: cfg.serverCpu,
    cmd: process.execPath,
    args: [join(here, 'noop-server.mjs'), String(port), answersFile],
    cwd: tmp,
    env: {},
    logFile: join(tmp, 'fastify-noop.log'),
  });
  Object.assign(handle, { kind: 'noop', http: port });
  track(handle);
  const ms = await waitReady(handle, `http://127.0.0.1:${port}/v2/health/ready`);
  log(`fastify-noop ready in ${ms} ms (pid ${handle.pid})`);
  return handle;
}

function scripts(tmp, list) {
  for (const route of list) {
    const script = join(tmp, `front-end-${route.id}.lua`);
    if (route.method === 'GET') {
      route.script = writeWrkGetScript(script);
    } else {
      const bodyFile = join(tmp, `front-end-${route.id}.json`);
      writeFileSync(bodyFile, JSON.stringify(route.body));
      route.script = writeWrkScript(script, bodyFile, { 'Content-Type': 'application/json' });
    }
  }
}

async function measureOnce({ cfg, wrk }, server, route, others) {
  const otherBefore = others.map((o) => treeCpuSeconds(o.pid));
  const coreBefore = cpuBusySeconds(cfg.serverCpu);
  const cpuBefore = treeCpuSeconds(server.pid);
  const r = await runWrk({
    wrk,
    cpu: cfg.clientCpu,
    url: `http://127.0.0.1:${server.http}${route.path}`,
    script: route.script,
    concurrency: FRONT_END_CONCURRENCY,
    seconds: cfg.seconds,
  });
  const cpu = treeCpuSeconds(server.pid) - cpuBefore;
  const idle = others.reduce((s, o, i) => s + treeCpuSeconds(o.pid) - otherBefore[i], 0);
  const foreign = Math.max(0, cpuBusySeconds(cfg.serverCpu) - coreBefore - cpu - idle);
  return {
    ...r,
    serverCpuUtil: cpu / r.seconds,
    cpuMicrosPerRequest: r.requests > 0 ? (cpu * 1e6) / r.requests : NaN,
    foreignCpuUtil: foreign / r.seconds,
  };
}

/**
 * Measures every route on every server that serves it: a warm-up per server, then rounds that
 * measure each server once in an order rotated per round. `servers` are run.mjs's Tessera handles
 * and the Triton handle, all up; the no-op server is started and stopped here.
 */
export async function measureFrontEnd({ cfg, tmp, wrk, servers, simpleInputs, track, log }) {
  const list = routes(simpleInputs);
  const tessera = servers.find((s) => s.kind === 'tessera');
  for (const s of servers.filter((x) => x.kind === 'tessera')) {
    await waitReady(s, `http://127.0.0.1:${s.http}/v2/models/iris/ready`);
  }
  const noop = await startNoop({
    cfg,
    tmp,
    answers: await tesseraAnswers(tessera, list),
    track,
    log,
  });
  scripts(tmp, list);
  const all = [...servers, noop];
  const out = {};
  try {
    for (const route of list) {
      const targets = all.filter((s) => route.triton !== false || s.kind !== 'triton');
      const rounds = Object.fromEntries(targets.map((s) => [s.name, []]));
      for (const server of cfg.warmup > 0 ? targets : []) {
        await runWrk({
          wrk,
          cpu: cfg.clientCpu,
          url: `http://127.0.0.1:${server.http}${route.path}`,
          script: route.script,
          concurrency: FRONT_END_CONCURRENCY,
          seconds: cfg.warmup,
        });
      }
      for (let round = 0; round < cfg.rounds; round += 1) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]);
        for (const server of order) {
          const others = all.filter((s) => s !== server && !s.exited);
          const m = await measureOnce({ cfg, wrk }, server, route, others);
          m.round = round;
          rounds[server.name].push(m);
          log(
            `front end ${route.id} ${server.name} round ${round + 1}/${cfg.rounds}: ${m.rps.toFixed(0)} req/s, ${m.cpuMicrosPerRequest.toFixed(0)} µs CPU/request, errors ${m.errors}`,
          );
        }
      }
      out[route.id] = { label: route.label, servers: rounds };
    }
  } finally {
    await stop(noop);
  }
  return { concurrency: FRONT_END_CONCURRENCY, routes: out };
}
