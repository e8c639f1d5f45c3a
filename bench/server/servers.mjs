// Starting, probing and stopping the benchmarked servers, pinned to one CPU with taskset, plus
// /proc readings of their CPU time (the whole process tree: MLServer's inference-pool workers are
// child processes) and the event-loop delay reported by eld-preload.mjs in Tessera.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLK_TCK = 100; // USER_HZ on Linux

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `cmd args` under `taskset -c cpu` (taskset execs, so the pid is the server's), with
 * stdout+stderr appended to `logFile`. Returns a handle { name, pid, child, logFile, exited }.
 */
export function startPinned({ name, cpu, cmd, args, cwd, env, logFile }) {
  const fd = openSync(logFile, 'a');
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const handle = { name, pid: child.pid, child, logFile, exited: false };
  child.on('exit', () => {
    handle.exited = true;
  });
  return handle;
}

export function logTail(handle, lines = 15) {
  try {
    return readFileSync(handle.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Polls GET url until 200, the process exits, or timeoutMs passes. */
export async function waitReady(handle, url, timeoutMs = 120_000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (handle.exited)
      throw new Error(`${handle.name} exited during start-up:\n${logTail(handle)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${handle.name} not ready after ${timeoutMs / 1000}s:\n${logTail(handle)}`);
}

function statOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** pid and all its living descendants. */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = statOf(entry);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(entry));
    children.set(st.ppid, list);
  }
  const out = [];
  const queue = [pid];
  while (queue.length > 0 && out.length < 10_000) {
    const p = queue.shift();
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) used so far by pid and its living descendants. */
export function treeCpuSeconds(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) ticks += statOf(p)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/** CPU seconds (user + system) used so far by pid alone, without its descendants. */
export function ownCpuSeconds(pid) {
  return (statOf(pid)?.ticks ?? 0) / CLK_TCK;
}

/** CPU seconds of this process's waited-for children (cutime + cstime): the load generators. */
export function childrenCpuSeconds() {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/** Busy (non-idle, non-iowait) seconds of one CPU so far, from /proc/stat. */
export function cpuBusySeconds(cpu) {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return 0;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK;
}

/** Path of the preload module that records event-loop delay in Tessera. */
export const ELD_PRELOAD = join(here, 'eld-preload.mjs');

/** Asks a Tessera process for its event-loop delay since the last call (and resets it). */
export async function eventLoopDelay(handle) {
  if (!handle.eldFile) return undefined;
  const before = readEld(handle.eldFile)?.seq ?? 0;
  process.kill(handle.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i += 1) {
    const now = readEld(handle.eldFile);
    if (now && now.seq > before) return now;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

function readEld(file) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** SIGTERM, then SIGKILL for whatever of the tree is left after graceMs. */
export async function stop(handle, graceMs = 10_000) {
  if (handle.exited) return;
  const tree = processTree(handle.pid);
  try {
    process.kill(handle.pid, 'SIGTERM');
  } catch {
    return;
  }
  const started = Date.now();
  while (!handle.exited && Date.now() - started < graceMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (handle.exited) return;
  for (const p of tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
