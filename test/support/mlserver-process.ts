// Real MLServer (`mlserver start <folder>`, the `mlserver` command of a peer virtualenv) on free
// loopback ports, as the reference a test compares Tessera with: same folder, same requests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './free-port.js';
import { grpcClient, type GrpcTestClient } from './grpc-client.js';
import { lastJsonLine, runPython } from './python-peer.js';
import { REPO_ROOT, startServer, type ServerProcess } from './server-process.js';

export interface MlserverProcess {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** Sends SIGTERM (SIGKILL after 10 s) and waits for the exit. */
  stop(): Promise<void>;
}

async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts MLServer from `python`'s virtualenv on `folder` and resolves once every model in
 * `models` is ready. parallel_workers is 0 (the models run in the server process): the answers
 * are the same, and the suite's two cores are spared an inference-pool process.
 */
export async function startMlserver(options: MlserverOptions): Promise<MlserverProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      // MLServer binds its ports only after loading its runtimes (seconds for TensorFlow), and a
      // port found free before may be taken by then (Tessera started beside it on port 0): that
      // one cause is retried on other ports.
      if (!(error instanceof PortTaken) || attempt === BIND_ATTEMPTS) throw error;
    }
  }
}

const BIND_ATTEMPTS = 3;

interface MlserverOptions {
  python: string;
  folder: string;
  models: readonly string[];
  timeoutMs?: number;
}

class PortTaken extends Error {}

async function startOnce(options: MlserverOptions): Promise<MlserverProcess> {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  // MLServer keeps its metrics files in its working folder: give it one of its own.
  const cwd = await mkdtemp(join(tmpdir(), 'tessera-mlserver-'));
  const child = spawn(join(dirname(options.python), 'mlserver'), ['start', options.folder], {
    cwd,
    env: {
      ...process.env,
      MLSERVER_HOST: '127.0.0.1',
      MLSERVER_HTTP_PORT: String(http),
      MLSERVER_GRPC_PORT: String(grpc),
      MLSERVER_METRICS_PORT: String(metrics),
      MLSERVER_PARALLEL_WORKERS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      resolveExit();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(cwd, { recursive: true, force: true });
  };
  const httpUrl = `http://127.0.0.1:${String(http)}`;
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  if (await modelsReady(httpUrl, options.models, options.timeoutMs ?? 120_000, gone)) {
    return { httpUrl, grpcAddress: `127.0.0.1:${String(grpc)}`, stop };
  }
  const why = gone() ? 'exited before it was ready' : 'was not ready within the deadline';
  await stop();
  const message = `mlserver ${why}:\n${output}`;
  throw gone() && /address already in use/.test(output)
    ? new PortTaken(message)
    : new Error(message);
}

/**
 * Polls `/v2/models/{m}/ready` of every model on a V2 server (MLServer or Tessera) until all are
 * ready (true), the deadline passes or `gone()` says the server exited (false).
 */
async function modelsReady(
  httpUrl: string,
  models: readonly string[],
  timeoutMs: number,
  gone: () => boolean = () => false,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const urls = models.map((m) => `${httpUrl}/v2/models/${m}/ready`);
  while (Date.now() < deadline && !gone()) {
    if ((await Promise.all(urls.map(isReady))).every(Boolean)) return true;
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
  return false;
}

/**
 * Awaits servers started side by side (Tessera and MLServer on one folder); when any fails, stops
 * those that started before rethrowing, so no server outlives a failed `before` (its process
 * would keep the test runner alive until the suite's deadline).
 */
async function startedTogether<T extends readonly { stop(): Promise<unknown> }[]>(starts: {
  [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const results = await Promise.allSettled(starts);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed === undefined) {
    return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
  }
  await Promise.all(
    results.map((r) => (r.status === 'fulfilled' ? r.value.stop() : Promise.resolve())),
  );
  throw failed.reason;
}

/** Tessera and MLServer serving one folder from one Python, with a gRPC client to each. */
export interface SideBySide {
  readonly tessera: ServerProcess;
  readonly mlserver: MlserverProcess;
  readonly grpc: { readonly tessera: GrpcTestClient; readonly mlserver: GrpcTestClient };
  /** Closes the clients and stops both servers. */
  stop(): Promise<void>;
}

/**
 * Starts Tessera (its Python worker on `python`) and MLServer (`python`'s `mlserver`) on `folder`
 * and resolves once both serve every model in `models`.
 */
export async function startSideBySide(options: {
  python: string;
  folder: string;
  models: readonly string[];
  /** Added to Tessera's environment (MLServer inherits the test's). */
  env?: Record<string, string>;
  timeoutMs: number;
}): Promise<SideBySide> {
  const { python, folder, models, timeoutMs } = options;
  const [tessera, mlserver] = await startedTogether<[ServerProcess, MlserverProcess]>([
    startServer({ folder, env: { TESSERA_PYTHON_EXECUTABLE: python, ...options.env }, timeoutMs }),
    startMlserver({ python, folder, models, timeoutMs }),
  ]);
  if (!(await modelsReady(tessera.httpUrl, models, timeoutMs))) {
    await Promise.all([tessera.stop(), mlserver.stop()]);
    throw new Error(`Tessera did not load ${models.join(', ')} within ${String(timeoutMs)} ms`);
  }
  const grpc = {
    tessera: grpcClient(tessera.grpcAddress),
    mlserver: grpcClient(mlserver.grpcAddress),
  };
  return {
    tessera,
    mlserver,
    grpc,
    stop: async () => {
      grpc.tessera.close();
      grpc.mlserver.close();
      await Promise.all([tessera.stop(), mlserver.stop()]);
    },
  };
}

/** A REST answer without what differs by nature (the id) and MLServer's empty `parameters`. */
export function restAnswer(body: unknown): unknown {
  const { id: _id, parameters, ...rest } = body as Record<string, unknown>;
  const empty = parameters === undefined || Object.keys(parameters as object).length === 0;
  return empty ? rest : { ...rest, parameters };
}

/**
 * Runs a peer script (`test/peers/<script>`, with `--out <folder>` and `args`) that writes model folders into
 * a new temporary folder; resolves with the folder and the JSON line the script printed last.
 */
export async function buildModels(
  python: string,
  script: string,
  prefix: string,
  args: readonly string[] = [],
): Promise<{ readonly root: string; readonly made: unknown }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const run = await runPython(
    [join(REPO_ROOT, 'test', 'peers', script), '--out', root, ...args],
    300_000,
    undefined,
    python,
  );
  if (run.code !== 0) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`${script} failed (exit ${String(run.code)}): ${run.stderr.slice(-2000)}`);
  }
  return { root, made: lastJsonLine(run.stdout) };
}

/**
 * Asserts that Tessera's REST model metadata is MLServer's, apart from the parameters that say the
 * Python worker serves it with `pythonClass` under mlserver 1.7.1.
 */
export async function assertMetadataAsMlserver(
  servers: Pick<SideBySide, 'tessera' | 'mlserver'>,
  model: string,
  pythonClass: string,
): Promise<void> {
  const metadata = async (httpUrl: string) =>
    (await (await fetch(`${httpUrl}/v2/models/${model}`)).json()) as Record<string, unknown>;
  const ours = await metadata(servers.tessera.httpUrl);
  const theirs = await metadata(servers.mlserver.httpUrl);
  const { runtime_path, python_class, mlserver_version, ...own } = ours['parameters'] as Record<
    string,
    unknown
  >;
  assert.deepEqual(
    [runtime_path, python_class, mlserver_version],
    ['python', pythonClass, '1.7.1'],
  );
  assert.deepEqual({ ...ours, parameters: own }, theirs);
}
