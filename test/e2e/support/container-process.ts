// One run of a container as a local process in its own process group, so stopping it also
// stops anything it spawned (worker threads die with it; child processes get the signal too).
import { spawn, type ChildProcess } from 'node:child_process';

/** How a container run ended. */
export interface ContainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly finishedAt: Date;
}

/** Keeps the last `limit` bytes of a stream of chunks. */
export class LogTail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit = 256 * 1024) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1)
      this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** A running (or finished) container process. */
export class ContainerProcess {
  readonly startedAt = new Date();
  readonly exited: Promise<ContainerExit>;
  private readonly child: ChildProcess;
  private exit: ContainerExit | undefined;

  /** Spawns `argv` with exactly `env` (nothing of the test runner's environment leaks in). */
  constructor(argv: readonly string[], env: Record<string, string>, cwd: string, log: LogTail) {
    const [file, ...args] = argv;
    this.child = spawn(file!, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (c: Buffer) => {
      log.push(c);
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      log.push(c);
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exit ??= { code, signal, finishedAt: new Date() };
        resolve(this.exit);
      };
      this.child.once('exit', done);
      // A spawn failure (missing executable) is an exit with code 128, as a runtime reports it.
      this.child.once('error', (err) => {
        log.push(Buffer.from(`process kubelet: ${err.message}\n`));
        done(128, null);
      });
    });
  }

  /** The pid, used as the container ID (`process://<pid>`). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Sends `signal` to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.exit !== undefined || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs` (a kubelet's KillContainer); resolves on exit. */
  async stop(graceMs: number): Promise<ContainerExit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => {
      this.signal('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    // Grandchildren may outlive the leader; the group goes with it.
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // Nothing left.
      }
    }
    return exit;
  }
}
