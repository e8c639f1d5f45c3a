// A long-running peer program of an e2e test (Prometheus, KEDA) as a local process group: logs
// kept for diagnostics, readiness awaited through an observable probe, killed with the test
// runner if it dies first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../integration/server/lifecycle-helpers.js';
import { ContainerProcess, LogTail } from './container-process.js';

/** A started peer. */
export interface PeerProcess {
  readonly name: string;
  /** A private scratch folder, removed on stop. */
  readonly dir: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Makes the scratch folder first, so config files can be written before the process starts. */
export function peerDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `tessera-${name}-`));
}

/**
 * Starts `argv` (with `env` over the runner's environment) and resolves once `ready()` is true
 * (polled by the shared `waitFor`); fails with the peer's last log lines if it exits or times
 * out first.
 */
export async function startPeerProcess(options: {
  readonly name: string;
  readonly dir: string;
  readonly argv: readonly string[];
  readonly env?: Record<string, string>;
  readonly ready: () => Promise<boolean>;
  readonly timeoutMs?: number;
}): Promise<PeerProcess> {
  const log = new LogTail();
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...options.env }).filter(
      (e): e is [string, string] => e[1] !== undefined,
    ),
  );
  const child = new ContainerProcess(options.argv, env, options.dir, log);
  const kill = (): void => {
    child.signal('SIGKILL');
  };
  process.once('exit', kill);
  const tail = (): string => log.text().split('\n').slice(-40).join('\n');
  const stop = async (): Promise<void> => {
    process.removeListener('exit', kill);
    await child.stop(5_000);
    rmSync(options.dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (!child.running)
          throw new Error(`${options.name} exited before it was ready:\n${tail()}`);
        return options.ready().catch(() => false);
      },
      `${options.name} ready`,
      options.timeoutMs ?? 60_000,
      tail,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: options.name, dir: options.dir, logs: () => log.text(), stop };
}

/** GET `url`; true on a 2xx answer. */
export async function answersOk(url: string, init: RequestInit = {}): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}
