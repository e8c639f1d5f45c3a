// CPU time of the processes a benchmark started (the control plane, the operator), read from
// /proc (proc(5): utime and stime of /proc/<pid>/stat, in clock ticks), so a run can say which
// process the 2 cores went to.
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every Linux build that matters. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly cpuSeconds: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined; // exited, or not Linux
  }
  // comm is in parentheses and may contain spaces; the fields after it are space separated.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { pid, ppid, comm, cpuSeconds: (utime + stime) / TICKS_PER_SECOND };
}

/** CPU seconds used so far by each child of this process, by command name (summed per name). */
export function childCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat?.ppid !== process.pid) continue;
    out.set(stat.comm, (out.get(stat.comm) ?? 0) + stat.cpuSeconds);
  }
  const self = process.cpuUsage();
  out.set('benchmark', (self.user + self.system) / 1e6);
  return out;
}

/** CPU seconds each process used between two samples, largest first. */
export function cpuBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): [string, number][] {
  return [...after]
    .map(([name, s]): [string, number] => [name, s - (before.get(name) ?? 0)])
    .sort((a, b) => b[1] - a[1]);
}
