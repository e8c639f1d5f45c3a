// Starts the real agent (`node server/dist/cli.js agent`, as the pod runs it) on a free loopback
// port and stops it with SIGTERM. The port comes from the "Agent ready" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ENV } from '@tessera/contract';
import { REPO_ROOT } from './server-process.js';

export interface AgentProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every output line so far. */
  readonly output: string[];
  stop(): Promise<void>;
}

export interface AgentOptions {
  readonly modelDir: string;
  readonly serverUrl: string;
  readonly credentialsDir: string;
  readonly allowedRoots?: readonly string[];
  readonly env?: Record<string, string>;
}

export async function startAgentProcess(options: AgentOptions): Promise<AgentProcess> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'server/dist/cli.js'), 'agent'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      [ENV.agentHost]: '127.0.0.1',
      [ENV.agentPort]: '0',
      [ENV.agentModelDir]: options.modelDir,
      [ENV.agentServerUrl]: options.serverUrl,
      [ENV.agentCredentialsDir]: options.credentialsDir,
      [ENV.agentAllowedRoots]: JSON.stringify(options.allowedRoots ?? []),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`agent did not start:\n${output.join('\n')}`));
    }, 20_000);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.on('data', (chunk: Buffer) => {
        partial += chunk.toString();
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.trim() !== '')) {
          output.push(line);
          try {
            const entry = JSON.parse(line) as { msg?: string; port?: number };
            if (entry.msg === 'Agent ready' && typeof entry.port === 'number') {
              clearTimeout(timer);
              resolve(entry.port);
            }
          } catch {
            // plain text
          }
        }
      });
    }
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`agent exited before it was ready:\n${output.join('\n')}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
