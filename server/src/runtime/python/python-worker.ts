/**
 * One supervised Python worker process (server/python/tessera_worker). It is started on the first
 * load, talks frames (wire.ts) over a socket pair given to it as fd 3, forwards its stdout and
 * stderr line by line to the server log, and is restarted with exponential backoff when it dies:
 * calls in flight fail with the reason, the models it held are loaded again after the restart, and
 * calls meanwhile answer 503 with the reason. It is stopped when its last model unloads.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../core/ports.js';
import { ErrorCode, ServerError } from '../../errors.js';
import { type Frame, FrameDecoder, MessageKind, encodeFrame } from './wire.js';

/** server/python, the folder holding the tessera_worker package (no build step). */
export const WORKER_PYTHONPATH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'python',
);

export interface PythonWorkerOptions {
  readonly python: string;
  readonly logger: Logger;
  /** Calls in flight at once; one more answers SRV_ERR_OVERLOADED. */
  readonly maxInFlight: number;
  /** Called when the worker died: `reason` says why (for logs and the models' reason). */
  readonly onExit?: (reason: string) => void;
  /** Receives the worker's METRIC frames (custom metrics from `mlserver.register` / `log`). */
  readonly onMetric?: (head: unknown) => void;
  /** Which process of its environment this is (0-based), for the log lines. */
  readonly index?: number;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(error: Error): void;
  /** A stream's responses (PART frames) before its final reply. */
  part?(frame: Frame): void;
}

/** What a model needs to be loaded again after a restart. */
interface Held {
  readonly head: unknown;
}

/** What one restart's reload answered: LOAD replies, and the joining loads that failed. */
interface ReloadResults {
  readonly replies: ReadonlyMap<string, unknown>;
  readonly failures: ReadonlyMap<string, unknown>;
}

/** Runs `python -m tessera_worker` with the package's folder (argv[1]) first on sys.path. */
const BOOTSTRAP =
  "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('tessera_worker', run_name='__main__')";

const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Up this long after a restart, a worker's next death backs off from the start again. */
const BACKOFF_RESET_MS = 60_000;
/**
 * How long a stopping worker has to exit after SIGTERM before it is killed: model code may ignore
 * SIGTERM (a library that installs its own handler), and an unload or a shutdown must not hang on it.
 */
const STOP_GRACE_MS = 2_000;
/** How long an unload waits for the worker's answer before going on without it. */
const UNLOAD_WAIT_MS = 5_000;

/** A frame-speaking Python child process. */
export class PythonWorker {
  readonly #options: PythonWorkerOptions;
  #child: ChildProcess | undefined;
  #channel: Duplex | undefined;
  #ready: Promise<void> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #held = new Map<string, Held>();
  /** Why the worker is not serving now (restarting), or undefined. */
  #down: string | undefined;
  #restarts = 0;
  /** When the worker last came back from a restart (for resetting the backoff). */
  #upSince: number | undefined;
  /** The backoff timer of the next restart, while one is scheduled. */
  #restartTimer: NodeJS.Timeout | undefined;
  /** The restart under way: what each held model's LOAD answered (rejected: it did not come back). */
  #restarting: Promise<ReloadResults> | undefined;
  /** Models a load brought to a restart (see #loadWhileDown): their failure fails only them. */
  readonly #joining = new Set<string>();
  #stopping = false;
  /** Versions the worker reported in its HELLO frame. */
  hello: { python?: string; mlserver?: string | null; import_error?: string | null } = {};

  constructor(options: PythonWorkerOptions) {
    this.#options = options;
  }

  /** Why the worker is not serving now (it is restarting), or undefined. */
  get downReason(): string | undefined {
    return this.#down;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Calls in flight now (streams included). */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** How many models this process holds. */
  get models(): number {
    return this.#held.size;
  }

  /** Whether this process holds the model `key` (loaded, or to be loaded when it restarts). */
  holds(key: string): boolean {
    return this.#held.has(key);
  }

  /**
   * Records a model for a process that is restarting, without calling it: the restart loads every
   * held model before the process serves again (a load while a sibling process serves must not wait
   * for, or fail with, this one's backoff).
   */
  hold(key: string, head: Record<string, unknown>): void {
    this.#held.set(key, { head: { ...head, key } });
  }

  /** Loads a model (starting the worker if needed); resolves with the worker's OK head. */
  async load(key: string, head: Record<string, unknown>): Promise<unknown> {
    const held = { head: { ...head, key } };
    if (this.#down !== undefined) return this.#loadWhileDown(key, held);
    await this.#start();
    const reply = await this.#call(MessageKind.LOAD, held.head);
    this.#held.set(key, held);
    return reply.head;
  }

  /**
   * A load while the process is down (it crashed and waits out its backoff): bring it back now,
   * with this model among those the restart loads. Loading it here as well would send it twice
   * (once from the restart's reload of every held model), which a runtime may refuse or leak.
   */
  async #loadWhileDown(key: string, held: Held): Promise<unknown> {
    const had = this.#held.get(key);
    this.#held.set(key, held);
    this.#joining.add(key);
    try {
      const { replies, failures } = await this.#restart();
      if (failures.has(key)) throw failures.get(key);
      if (!replies.has(key)) throw new Error('the Python worker restarted without this model');
      return replies.get(key);
    } catch (error) {
      // Keep what was held before (a reload of a model the process already held stays held).
      if (had === undefined) this.#held.delete(key);
      else this.#held.set(key, had);
      throw error;
    } finally {
      this.#joining.delete(key);
    }
  }

  /** Unloads a model; stops the worker when it was the last one. */
  async unload(key: string): Promise<void> {
    this.#held.delete(key);
    if (this.#down === undefined && this.#child !== undefined) {
      // Bounded: a worker hung in a predict never answers, and an unload must not hang with it
      // (the worker is then stopped, or keeps its other models and frees this one when it can).
      const wait = AbortSignal.timeout(UNLOAD_WAIT_MS);
      await this.#call(MessageKind.UNLOAD, { key }, [], wait).catch(() => {
        if (wait.aborted) {
          this.#options.logger.warn(
            { worker: 'python', pid: this.pid, model_key: key, waitMs: UNLOAD_WAIT_MS },
            'the Python worker did not answer an unload in time',
          );
        }
      });
    }
    if (this.#held.size === 0) await this.stop();
  }

  /** Runs inference; the signal abandons the call (its reply is dropped when it comes). */
  async infer(head: unknown, body: readonly Uint8Array[], signal?: AbortSignal): Promise<Frame> {
    this.#admit();
    return this.#call(MessageKind.INFER, head, body, signal);
  }

  /** Runs one HTTP request through a model's custom REST handlers (head `{ key, method, … }`). */
  async http(head: unknown, body: readonly Uint8Array[], signal?: AbortSignal): Promise<Frame> {
    this.#admit();
    return this.#call(MessageKind.HTTP, head, body, signal);
  }

  /** Refuses a call while the worker restarts or while it holds `maxInFlight` calls. */
  #admit(): void {
    if (this.#down !== undefined) {
      throw new ServerError(
        ErrorCode.MODEL_NOT_READY,
        `the Python worker is restarting: ${this.#down}`,
      );
    }
    if (this.#pending.size >= this.#options.maxInFlight) {
      throw new ServerError(
        ErrorCode.OVERLOADED,
        `the Python worker has ${String(this.#options.maxInFlight)} requests in flight (python_max_in_flight); retry later`,
      );
    }
  }

  /**
   * Runs one request through the model's `predict_stream`: yields each response frame as the
   * worker sends it. Ending the iteration early (`return()`, the client went away) cancels the
   * stream in the worker, which closes the model's generator.
   */
  async *stream(
    head: unknown,
    body: readonly Uint8Array[],
  ): AsyncGenerator<Frame, void, undefined> {
    this.#admit();
    const channel = this.#channel;
    if (channel === undefined) {
      throw new ServerError(ErrorCode.MODEL_NOT_READY, 'the Python worker is not running');
    }
    const id = this.#nextId++;
    const parts: Frame[] = [];
    let end: { frame?: Frame; error?: Error } | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    this.#pending.set(id, {
      part: (frame) => {
        parts.push(frame);
        notify();
      },
      resolve: (frame) => {
        end = { frame };
        notify();
      },
      reject: (error) => {
        end = { error };
        notify();
      },
    });
    channel.write(encodeFrame(MessageKind.STREAM, id, head, body));
    let finished = false;
    try {
      for (;;) {
        const next = parts.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (end !== undefined) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      finished = true;
      if (end.error !== undefined) throw end.error;
      if (end.frame?.kind === MessageKind.ERROR) throw workerError(MessageKind.STREAM, end.frame);
    } finally {
      this.#pending.delete(id);
      if (!finished && this.#channel === channel) {
        channel.write(encodeFrame(MessageKind.CANCEL, id, {}));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    // A stopped worker is not restarting: its next load starts it afresh.
    this.#down = undefined;
    const child = this.#child;
    this.#child = undefined;
    this.#ready = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    this.#channel?.end();
    child.kill('SIGTERM');
    const kill = setTimeout(() => {
      this.#options.logger.warn(
        { worker: 'python', pid: child.pid, graceMs: STOP_GRACE_MS },
        'the Python worker ignored SIGTERM; killing it',
      );
      child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(kill);
  }

  #call(
    kind: MessageKind,
    head: unknown,
    body: readonly Uint8Array[] = [],
    signal?: AbortSignal,
  ): Promise<Frame> {
    const channel = this.#channel;
    if (channel === undefined) {
      return Promise.reject(
        new ServerError(ErrorCode.MODEL_NOT_READY, 'the Python worker is not running'),
      );
    }
    const id = this.#nextId++;
    return new Promise<Frame>((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(new ServerError(ErrorCode.CANCELLED, 'the request was abandoned'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (frame) => {
          signal?.removeEventListener('abort', onAbort);
          if (frame.kind === MessageKind.ERROR) reject(workerError(kind, frame));
          else resolve(frame);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      channel.write(encodeFrame(kind, id, head, body));
    });
  }

  #start(): Promise<void> {
    this.#stopping = false;
    this.#ready ??= this.#spawn();
    return this.#ready;
  }

  #spawn(): Promise<void> {
    const { python, logger } = this.#options;
    // The worker package is put on sys.path by the bootstrap (not PYTHONPATH, so the model's
    // environment keeps its own); -u: unbuffered, so log lines arrive as they are printed.
    const child = spawn(python, ['-u', '-c', BOOTSTRAP, WORKER_PYTHONPATH], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    const channel = child.stdio[3] as Duplex;
    this.#channel = channel;
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = child[stream];
      if (input === null) continue;
      const lines = createInterface({ input });
      lines.on('line', (line) => {
        logger.info({ worker: 'python', pid: child.pid, stream }, line);
      });
    }
    const decoder = new FrameDecoder();
    return new Promise<void>((resolve, reject) => {
      let greeted = false;
      channel.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          logger.error(
            { worker: 'python', err: error },
            'corrupt frames from the Python worker; restarting it',
          );
          child.kill('SIGKILL');
          return;
        }
        for (const frame of frames) {
          if (frame.kind === MessageKind.METRIC) {
            this.#options.onMetric?.(frame.head);
            continue;
          }
          if (frame.kind === MessageKind.HELLO) {
            greeted = true;
            this.hello = frame.head as typeof this.hello;
            logger.info(
              {
                worker: 'python',
                pid: child.pid,
                process: this.#options.index ?? 0,
                ...this.hello,
              },
              'Python worker started',
            );
            resolve();
            continue;
          }
          const pending = this.#pending.get(frame.id);
          if (frame.kind === MessageKind.PART) {
            pending?.part?.(frame);
            continue;
          }
          this.#pending.delete(frame.id);
          pending?.resolve(frame);
        }
      });
      channel.on('error', () => undefined);
      child.once('error', (error) => {
        const message = `the Python interpreter cannot be started (${(error as NodeJS.ErrnoException).code ?? error.message}); set python_executable (TESSERA_PYTHON_EXECUTABLE) or parameters.environment_path to a Python with mlserver installed`;
        this.#ready = undefined;
        this.#child = undefined;
        reject(new ServerError(ErrorCode.MODEL_LOAD_FAILED, message));
      });
      child.once('exit', (code, signal) => {
        const reason = `the Python worker exited (${signal ?? `code ${String(code)}`})`;
        if (!greeted) {
          this.#ready = undefined;
          reject(
            new ServerError(
              ErrorCode.MODEL_LOAD_FAILED,
              `${reason} before it started; is python_executable (or parameters.environment_path) a Python 3 with mlserver? (see the server log)`,
            ),
          );
        }
        this.#exited(child, reason);
      });
    });
  }

  #exited(child: ChildProcess, reason: string): void {
    if (this.#child !== child && this.#child !== undefined) return;
    this.#child = undefined;
    this.#channel = undefined;
    this.#ready = undefined;
    for (const pending of this.#pending.values()) {
      pending.reject(new ServerError(ErrorCode.INFERENCE_FAILED, reason));
    }
    this.#pending.clear();
    if (this.#stopping || this.#held.size === 0) return;
    this.#down = reason;
    this.#options.onExit?.(reason);
    // A worker that served a good while before dying starts the backoff over: the doubling is for
    // crash loops, not for one crash a day.
    if (this.#upSince !== undefined && Date.now() - this.#upSince > BACKOFF_RESET_MS) {
      this.#restarts = 0;
    }
    this.#upSince = undefined;
    this.#scheduleRestart(reason);
  }

  #scheduleRestart(reason: string): void {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.#restarts);
    this.#restarts++;
    this.#options.logger.warn(
      { worker: 'python', process: this.#options.index ?? 0, delayMs: delay },
      `${reason}; restarting it`,
    );
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restart().catch(() => undefined); // logged, and retried, by #reloadAll
    }, delay);
    this.#restartTimer.unref();
  }

  /**
   * Starts the process again and loads every held model into it, once: a load that asks while
   * the backoff timer runs joins the same restart (the timer is cancelled), never a second one.
   */
  #restart(): Promise<ReloadResults> {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#restarting ??= this.#reloadAll().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async #reloadAll(): Promise<ReloadResults> {
    const replies = new Map<string, unknown>();
    const failures = new Map<string, unknown>();
    if (this.#stopping) throw new Error('the Python worker is stopping');
    try {
      await this.#start();
      // A Map's iterator also visits models held while this loop runs (a load that joined it).
      for (const [key, held] of this.#held) {
        try {
          replies.set(key, (await this.#call(MessageKind.LOAD, held.head)).head);
        } catch (error) {
          // A joining model that does not load fails its own load; one the process held before
          // the crash fails the restart, which is tried again after the backoff.
          if (!this.#joining.has(key)) throw error;
          failures.set(key, error);
        }
      }
      this.#down = undefined;
      this.#upSince = Date.now();
      this.#options.logger.info(
        {
          worker: 'python',
          pid: this.pid,
          process: this.#options.index ?? 0,
          models: this.#held.size,
        },
        'Python worker restarted; models loaded again',
      );
      return { replies, failures };
    } catch (error) {
      this.#options.logger.error(
        { worker: 'python', err: error instanceof Error ? error.message : String(error) },
        'the Python worker did not come back',
      );
      // A running child that failed a reload is killed, and its exit schedules the next try; a
      // child that never started (the interpreter is gone) has no exit, so try again from here.
      if (this.#child !== undefined) this.#child.kill('SIGKILL');
      else if (this.#held.size > 0) this.#scheduleRestart(this.#down ?? '');
      throw error;
    }
  }
}

/**
 * The error an ERROR frame stands for. A failed load is a load failure; a request the runtime
 * refused with a 4xx (MLServer's `MLServerError.status_code`, e.g. `InferenceError`) is the
 * client's invalid input, as MLServer answers it; anything else failed in the runtime.
 */
function workerError(kind: MessageKind, frame: Frame): ServerError {
  const { message, status } = frame.head as { message?: unknown; status?: unknown };
  const text = typeof message === 'string' ? message : 'the Python worker failed';
  if (kind === MessageKind.LOAD) return new ServerError(ErrorCode.MODEL_LOAD_FAILED, text);
  const clientError = typeof status === 'number' && status >= 400 && status < 500;
  return new ServerError(clientError ? ErrorCode.INVALID_INPUT : ErrorCode.INFERENCE_FAILED, text);
}
