// Starts the real, built server (`node server/dist/cli.js start <folder>`) on free loopback ports,
// as users run it, and stops it with SIGTERM. Ports come from the "Server ready" log line.
//
//   const server = await startServer({ folder: 'examples/models' });
//   await fetch(`${server.httpUrl}/v2/health/ready`);
//   const exitCode = await server.stop();
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(REPO_ROOT, 'server', 'dist', 'cli.js');

export interface ServerProcess {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly metricsUrl: string;
  /** The admin listener (repository API) when TESSERA_ADMIN_PORT is set, else undefined. */
  readonly adminUrl: string | undefined;
  readonly ports: { http: number; grpc: number; metrics: number | null; admin?: number | null };
  readonly child: ChildProcess;
  /** Every log line (JSON objects parsed where possible) printed so far. */
  readonly logs: unknown[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** Folder to serve; defaults to examples/models. */
  readonly folder?: string;
  /** Extra environment variables (e.g. TESSERA_MAX_BODY_BYTES). */
  readonly env?: Record<string, string>;
  /** How long to wait for "Server ready" (ms). */
  readonly timeoutMs?: number;
}

/** Copies a folder of models into a fresh temp dir, so a test can change files freely. */
export async function copyModels(
  ...folders: string[]
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-models-'));
  for (const folder of folders) {
    const source = resolve(REPO_ROOT, folder);
    await cp(source, join(dir, source.split('/').pop() ?? 'model'), { recursive: true });
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Spawns `tessera start <folder>` on free loopback ports with piped output, without waiting for
 * anything (tests of start-up itself use this directly).
 */
export function spawnServer(
  folder: string,
  env: Record<string, string> = {},
): ChildProcessByStdio<null, Readable, Readable> {
  const args = ['start', resolve(REPO_ROOT, folder), '--host', '127.0.0.1'];
  for (const port of ['--http-port', '--grpc-port', '--metrics-port']) args.push(port, '0');
  return spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TESSERA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts the server and waits until it reports ready. */
export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const child = spawnServer(options.folder ?? 'examples/models', options.env);
  const logs: unknown[] = [];
  let buffer = '';
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => {
      resolveExit(code);
    });
  });
  const ready = new Promise<ServerProcess['ports']>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(
          `server did not become ready within ${options.timeoutMs ?? 20000} ms:\n${buffer}`,
        ),
      );
    }, options.timeoutMs ?? 20000);
    const onLine = (line: string): void => {
      let parsed: unknown = line;
      try {
        parsed = JSON.parse(line);
      } catch {
        // plain text lines (the CLI banner) are kept as strings
      }
      logs.push(parsed);
      const entry = parsed as {
        msg?: string;
        ports?: { http: number; grpc: number; metrics: number | null; admin?: number | null };
      };
      if (entry.msg === 'Server ready' && entry.ports) {
        clearTimeout(timer);
        resolveReady(entry.ports);
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        partial += chunk.toString();
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        lines.filter((l) => l.trim() !== '').forEach(onLine);
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `server exited with code ${code} (signal ${child.signalCode ?? 'none'}) before it was ready:\n${buffer}`,
        ),
      );
    });
  });
  const ports = await ready;
  return {
    httpUrl: `http://127.0.0.1:${ports.http}`,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    metricsUrl: `http://127.0.0.1:${ports.metrics ?? 0}`,
    adminUrl:
      ports.admin === undefined || ports.admin === null
        ? undefined
        : `http://127.0.0.1:${ports.admin}`,
    ports,
    child,
    logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolveTimeout) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolveTimeout(null);
        }, 15000);
        timer.unref();
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
