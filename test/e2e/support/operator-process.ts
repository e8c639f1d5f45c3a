// The built operator (`node operator/dist/main.js`) as a child process against the test control
// plane, as it runs in a cluster: its own leader-election Lease, health and metrics on free ports.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { REPO_ROOT } from '../../support/server-process.js';
import { kubeconfigPath } from './kube.js';
import { LogTail } from './container-process.js';

/**
 * Model-driver retries and rechecks scaled down for tests (the defaults back off to minutes), so
 * a fault's recovery shows within a test's wait.
 */
export const FAST_MODEL_RETRIES: Readonly<Record<string, string>> = {
  TESSERA_OPERATOR_MODEL_RETRY_BASE_SECONDS: '1',
  TESSERA_OPERATOR_MODEL_RETRY_MAX_SECONDS: '4',
  TESSERA_OPERATOR_MODEL_RECHECK_SECONDS: '5',
};

/** Options of {@link startOperator}. */
export interface OperatorProcessOptions {
  /** Namespace the operator watches ('' = all). */
  readonly watchNamespace: string;
  /** Namespace of its leader-election Lease (default: the watched namespace). */
  readonly leaseNamespace?: string;
  /** Extra TESSERA_OPERATOR_* settings. */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** A running operator process. */
export interface OperatorProcess {
  readonly healthUrl: string;
  readonly metricsUrl: string;
  /** The Lease it elects itself with (unique per call of startOperator). */
  readonly leaseName: string;
  /** Its output so far (JSON log lines). */
  logs(): string;
  /** SIGTERM, SIGKILL after 20 s; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Stops it and starts a fresh process with the same settings and Lease. */
  restart(): Promise<OperatorProcess>;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

function waitForPorts(
  child: Child,
  log: LogTail,
  timeoutMs: number,
): Promise<{ health: number; metrics: number }> {
  return new Promise((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => {
      reject(new Error(`operator did not start within ${timeoutMs} ms:\n${log.text()}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as {
            msg?: string;
            healthPort?: number;
            metricsPort?: number;
          };
          if (entry.msg === 'Started operator' && entry.healthPort !== undefined) {
            clearTimeout(timer);
            resolve({ health: entry.healthPort, metrics: entry.metricsPort ?? 0 });
          }
        } catch {
          // not a JSON line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`operator exited with ${String(code)} before it started:\n${log.text()}`));
    });
  });
}

/** Resolves once `url` answers 200, polling until `deadline`. */
async function untilOk(url: string, deadline: number, log: LogTail): Promise<void> {
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} never answered 200:\n${log.text()}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Starts `node operator/dist/main.js` with leader election on (a unique Lease, so concurrent test
 * files never contend) and waits until /readyz answers 200.
 */
export async function startOperator(
  options: OperatorProcessOptions,
  leaseName = `tessera-e2e-${randomBytes(4).toString('hex')}`,
): Promise<OperatorProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const log = new LogTail();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'operator', 'dist', 'main.js')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      TESSERA_OPERATOR_KUBECONFIG: kubeconfigPath(),
      TESSERA_OPERATOR_WATCH_NAMESPACE: options.watchNamespace,
      TESSERA_OPERATOR_NAMESPACE: options.leaseNamespace ?? options.watchNamespace,
      TESSERA_OPERATOR_LEADER_ELECT: 'true',
      TESSERA_OPERATOR_LEADER_ELECTION_ID: leaseName,
      TESSERA_OPERATOR_BIND_ADDRESS: '127.0.0.1',
      TESSERA_OPERATOR_HEALTH_PORT: '0',
      TESSERA_OPERATOR_METRICS_PORT: '0',
      TESSERA_OPERATOR_LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', (c: Buffer) => {
    log.push(c);
  });
  child.stderr.on('data', (c: Buffer) => {
    log.push(c);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const onExit = (): void => {
    killGroup('SIGKILL');
  };
  process.once('exit', onExit);
  const stop = async (): Promise<number | null> => {
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) killGroup('SIGTERM');
    const timer = setTimeout(() => {
      killGroup('SIGKILL');
    }, 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  try {
    const ports = await waitForPorts(child, log, timeoutMs);
    const healthUrl = `http://127.0.0.1:${ports.health}`;
    await untilOk(`${healthUrl}/readyz`, Date.now() + timeoutMs, log);
    return {
      healthUrl,
      metricsUrl: `http://127.0.0.1:${ports.metrics}`,
      leaseName,
      logs: () => log.text(),
      stop,
      restart: async () => {
        await stop();
        return startOperator(options, leaseName);
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
