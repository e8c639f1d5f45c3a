// Helpers over the Python test peer (test/peers/python.peer.mjs provisions TESSERA_PYTHON):
//   runTritonConformance()  runs test/peers/python/triton_conformance.py (official tritonclient)
//   onnxReference()         runs test/peers/python/onnx_reference.py (Python onnxruntime oracle)
//   runBytesRoundTrip()     runs test/peers/python/bytes_roundtrip.py (BYTES through tritonclient)
//   runTritonExtensions()   runs test/peers/python/triton_extensions.py (Triton's extensions)
//   runTritonExample()      runs one of Triton's example clients (test/peers/python/triton_examples)
//   runSystemSharedMemory() runs test/peers/python/system_shared_memory.py (shared memory)
//   runStreamInfer()        runs test/peers/python/stream_infer.py (tritonclient.grpc streams)
//   startFakeV2Server()     starts test/peers/python/fake_v2_server.py (self-tests of the peers only)
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scripts = join(repoRoot, 'test', 'peers', 'python');

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ReferenceTensor {
  name: string;
  datatype: string;
  dtype: string;
  shape: number[];
  /** Flat, row-major; NaN and infinities as "NaN" / "Infinity" / "-Infinity". */
  data: unknown[];
}

export interface ReferenceResult {
  outputs: ReferenceTensor[];
  inputs: { name: string; datatype: string; shape: number[] }[];
  model_outputs: { name: string; datatype: string; shape: number[] }[];
}

/** Inputs for onnxReference: by name, `data` flat or nested, `datatype` a V2 name (optional). */
export type ReferenceInputs = Record<
  string,
  { data: unknown[]; shape?: number[]; datatype?: string }
>;

/**
 * A virtualenv's python, from `variable` (by default TESSERA_PYTHON, the main peer's); throws with
 * the reason when it is not provisioned.
 */
export function pythonPath(variable = 'TESSERA_PYTHON', peer = 'python.peer.mjs'): string {
  const python = process.env[variable];
  if (python === undefined || python === '') {
    throw new Error(
      `${variable} is not set: run the tests through scripts/run-tests.mjs (test/peers/${peer})`,
    );
  }
  if (!existsSync(python)) throw new Error(`${variable} points to a missing file: ${python}`);
  return python;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a Python script (by default in the main test virtualenv) with a bounded time. */
export function runPython(
  args: string[],
  timeoutMs: number,
  stdin?: string,
  python: string = pythonPath(),
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `python ${args[0] ?? ''} timed out after ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** The last line a script printed, parsed as JSON. */
export function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

export interface ConformanceOptions {
  /** host:port of the server's REST endpoint. */
  http: string;
  /** host:port of the server's gRPC endpoint. */
  grpc: string;
  /** Folder with simple/ and iris/ (default examples/models). */
  modelsDir?: string;
  /** Seconds per client call (default 10). */
  callTimeoutS?: number;
  /** Only one protocol's checks. */
  only?: 'http' | 'grpc';
  /** Bound on the whole script (default 180 s). */
  timeoutMs?: number;
}

/** Runs the tritonclient conformance script; resolves with every named check (never throws on a failed check). */
export async function runTritonConformance(
  options: ConformanceOptions,
): Promise<ConformanceCheck[]> {
  const args = [
    join(scripts, 'triton_conformance.py'),
    '--http',
    options.http,
    '--grpc',
    options.grpc,
    '--models-dir',
    options.modelsDir ?? join(repoRoot, 'examples', 'models'),
    '--timeout',
    String(options.callTimeoutS ?? 10),
  ];
  if (options.only) args.push('--only', options.only);
  const result = await runPython(args, options.timeoutMs ?? 180_000);
  try {
    const doc = lastJsonLine(result.stdout) as { checks: ConformanceCheck[] };
    return doc.checks;
  } catch {
    throw new Error(
      `triton_conformance.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** Runs test/peers/python/triton_extensions.py (config, statistics, load parameters, raw outputs). */
export async function runTritonExtensions(options: {
  http: string;
  grpc: string;
  modelsDir?: string;
  timeoutMs?: number;
}): Promise<ConformanceCheck[]> {
  const args = [
    join(scripts, 'triton_extensions.py'),
    '--http',
    options.http,
    '--grpc',
    options.grpc,
    '--models-dir',
    options.modelsDir ?? join(repoRoot, 'examples', 'models'),
  ];
  const result = await runPython(args, options.timeoutMs ?? 240_000);
  try {
    return (lastJsonLine(result.stdout) as { checks: ConformanceCheck[] }).checks;
  } catch {
    throw new Error(
      `triton_extensions.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** Runs test/peers/python/system_shared_memory.py (the shared-memory extension, both protocols). */
export async function runSystemSharedMemory(options: {
  http: string;
  grpc: string;
  timeoutMs?: number;
}): Promise<ConformanceCheck[]> {
  const args = [
    join(scripts, 'system_shared_memory.py'),
    '--http',
    options.http,
    '--grpc',
    options.grpc,
  ];
  const result = await runPython(args, options.timeoutMs ?? 120_000);
  try {
    return (lastJsonLine(result.stdout) as { checks: ConformanceCheck[] }).checks;
  } catch {
    throw new Error(
      `system_shared_memory.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** Runs one of Triton's example clients (test/peers/python/triton_examples/) against `url`. */
export function runTritonExample(
  script: 'simple_http_infer_client.py' | 'simple_grpc_infer_client.py',
  url: string,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runPython([join(scripts, 'triton_examples', script), '-u', url], timeoutMs);
}

/** What came back for one case over one path of {@link runBytesRoundTrip}. */
export interface BytesResult {
  case: string;
  path: 'http.binary' | 'http.json' | 'grpc';
  /** The returned elements, hex-encoded, when the call succeeded. */
  values?: string[];
  /** The client's error message and status when it failed. */
  error?: string;
  status?: string | null;
}

/**
 * Sends each case (name -> elements) as a BYTES tensor to `model` through tritonclient over HTTP
 * binary, HTTP JSON (UTF-8 cases only) and gRPC (test/peers/python/bytes_roundtrip.py).
 */
export async function runBytesRoundTrip(options: {
  http: string;
  grpc: string;
  model: string;
  cases: Record<string, readonly Uint8Array[]>;
}): Promise<BytesResult[]> {
  const cases = Object.fromEntries(
    Object.entries(options.cases).map(([name, elements]) => [
      name,
      elements.map((e) => Buffer.from(e).toString('hex')),
    ]),
  );
  const args = [
    join(scripts, 'bytes_roundtrip.py'),
    '--http',
    options.http,
    '--grpc',
    options.grpc,
  ];
  args.push('--model', options.model);
  const result = await runPython(args, 120_000, JSON.stringify(cases));
  try {
    return (lastJsonLine(result.stdout) as { results: BytesResult[] }).results;
  } catch {
    throw new Error(
      `bytes_roundtrip.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** Runs a model with Python onnxruntime on the given inputs. */
export async function onnxReference(
  modelPath: string,
  inputs: ReferenceInputs,
  options: { outputs?: string[]; timeoutMs?: number } = {},
): Promise<ReferenceResult> {
  const args = [
    join(scripts, 'onnx_reference.py'),
    '--model',
    resolve(repoRoot, modelPath),
    '--inputs',
    '-',
  ];
  if (options.outputs) args.push('--outputs', options.outputs.join(','));
  const result = await runPython(args, options.timeoutMs ?? 60_000, JSON.stringify(inputs));
  let doc: unknown;
  try {
    doc = lastJsonLine(result.stdout);
  } catch {
    throw new Error(
      `onnx_reference.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
  if (typeof doc === 'object' && doc !== null && 'error' in doc) {
    throw new Error(`onnx_reference.py: ${String(doc.error)}`);
  }
  return doc as ReferenceResult;
}

export interface FakeV2Server {
  http: string;
  grpc: string;
  stop(): Promise<void>;
}

/** Starts the Python fake V2 server on free loopback ports (for self-tests of the peers only). */
export function startFakeV2Server(modelsDir: string, timeoutMs = 30_000): Promise<FakeV2Server> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      pythonPath(),
      [join(scripts, 'fake_v2_server.py'), '--models-dir', resolve(repoRoot, modelsDir)],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) =>
        child.once('exit', () => {
          r();
        }),
      );
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      void stop();
      reject(
        new Error(`fake_v2_server.py not ready after ${timeoutMs} ms: ${output.slice(-2000)}`),
      );
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /READY http=(\d+) grpc=(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ http: `127.0.0.1:${m[1]!}`, grpc: `127.0.0.1:${m[2]!}`, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fake_v2_server.py exited (${String(code)}): ${output.slice(-2000)}`));
    });
  });
}

/** One protocol's answer from infer_model.py: the output tensor, or why the call failed. */
export type InferAnswer = { shape: number[]; data: number[] } | { error: string };

/**
 * Infers `rows` (FP32 [N, features]) on `model` with tritonclient over HTTP and gRPC, as a user
 * would, and returns both answers.
 */
export async function tritonInfer(options: {
  http: string;
  grpc: string;
  model: string;
  input: string;
  output: string;
  rows: number[][];
  timeoutMs?: number;
}): Promise<{ http: InferAnswer; grpc: InferAnswer }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const result = await runPython(
    [
      join(scripts, 'infer_model.py'),
      '--http',
      options.http,
      '--grpc',
      options.grpc,
      '--model',
      options.model,
      '--input',
      options.input,
      '--output',
      options.output,
      '--rows',
      JSON.stringify(options.rows),
      '--timeout',
      String(Math.max(1, Math.floor(timeoutMs / 2000))),
    ],
    timeoutMs,
  );
  try {
    return lastJsonLine(result.stdout) as { http: InferAnswer; grpc: InferAnswer };
  } catch {
    throw new Error(
      `infer_model.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** One model of {@link makeTreeModels}: the rows sent and what the Python library predicted. */
export interface TreeExpectation {
  rows: number;
  features: number;
  /** Little-endian FP32 rows, base64. */
  data: string;
  outputs: Record<string, { dtype: string; shape: number[]; data: number[] }>;
}

/**
 * Trains the XGBoost and LightGBM models of test/peers/python/tree_models.py into `out`
 * (`models/<name>/`, `expected/<name>.json`, `artefacts/model.joblib`).
 */
export async function makeTreeModels(out: string, options: { rows?: number } = {}): Promise<void> {
  const args = [join(scripts, 'tree_models.py'), '--out', out];
  if (options.rows !== undefined) args.push('--rows', String(options.rows));
  const result = await runPython(args, 300_000);
  if (result.code !== 0) {
    throw new Error(
      `tree_models.py failed (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** The older xgboost releases of test/peers/xgboost-versions.peer.mjs, with the variable naming each one's python. */
export const XGBOOST_RELEASES = {
  '1.7': 'TESSERA_XGBOOST_1_7_PYTHON',
  '2.1': 'TESSERA_XGBOOST_2_1_PYTHON',
} as const;

/** What test/peers/python/xgboost_versions.py reports. */
export interface XgboostVersionModels {
  /** The exact release that trained them, e.g. `1.7.6`. */
  xgboost: string;
  /** The JSON and UBJSON models, each with `expected/<name>.json`. */
  models: string[];
  /** The model folder holding the release's legacy binary `model.bst`. */
  legacy: string;
}

/**
 * Trains the models of test/peers/python/xgboost_versions.py with an older xgboost `release` into
 * `out` (`models/<name>/`, `expected/<name>.json`); several releases may share one `out`.
 */
export async function makeXgboostVersionModels(
  release: keyof typeof XGBOOST_RELEASES,
  out: string,
): Promise<XgboostVersionModels> {
  const python = pythonPath(XGBOOST_RELEASES[release], 'xgboost-versions.peer.mjs');
  const result = await runPython(
    [join(scripts, 'xgboost_versions.py'), '--out', out],
    300_000,
    undefined,
    python,
  );
  if (result.code !== 0) {
    throw new Error(
      `xgboost_versions.py (xgboost ${release}) failed (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as XgboostVersionModels;
}

/** One request of {@link runStreamInfer}: one BYTES input holding `text`. */
export interface StreamRequest {
  model: string;
  id: string;
  input: string;
  text: string;
  output: string;
  /** Ask for Triton's empty final response (enable_empty_final_response). */
  final?: boolean;
}

/** One callback of the stream: a response (its values, its final flag) or an error. */
export interface StreamCallback {
  id?: string;
  values?: string[];
  final?: boolean | null;
  error?: string;
  timeout?: boolean;
}

/**
 * Sends `requests` on one tritonclient.grpc stream (start_stream / async_stream_infer) and returns
 * every callback in order (test/peers/python/stream_infer.py); with `cancelAfter`, the client
 * cancels the stream once that many callbacks arrived.
 */
export async function runStreamInfer(options: {
  grpc: string;
  requests: readonly StreamRequest[];
  cancelAfter?: number;
}): Promise<StreamCallback[]> {
  const doc = { requests: options.requests, cancel_after: options.cancelAfter ?? null };
  const result = await runPython(
    [join(scripts, 'stream_infer.py'), '--grpc', options.grpc],
    120_000,
    JSON.stringify(doc),
  );
  try {
    return (lastJsonLine(result.stdout) as { responses: StreamCallback[] }).responses;
  } catch {
    throw new Error(
      `stream_infer.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}

/** Node counts of the tree models {@link makeMemoryModels} trained, read from their files. */
export interface MemoryModelCounts {
  xgboost: { internal: number; leaves: number; trees: number; groups: number };
  lightgbm: { internal: number; leaves: number; trees: number };
}

/**
 * Writes the models of test/peers/python/memory_models.py into `out` (`xgboost/model.json`,
 * `lightgbm/model.txt`, `wide/model.onnx` with `weightsMib` MiB of weights) and returns the
 * tree models' node counts.
 */
export async function makeMemoryModels(
  out: string,
  options: { weightsMib?: number } = {},
): Promise<MemoryModelCounts> {
  const args = [join(scripts, 'memory_models.py'), '--out', out];
  if (options.weightsMib !== undefined) args.push('--weights-mib', String(options.weightsMib));
  const result = await runPython(args, 300_000);
  if (result.code !== 0) {
    throw new Error(
      `memory_models.py failed (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
  return lastJsonLine(result.stdout) as MemoryModelCounts;
}

/** One protocol's answer from batch_statistics.py: the model config and statistics, or the error. */
export type StatisticsAnswer =
  | { config: Record<string, unknown>; stats: { model_stats: Record<string, unknown>[] } }
  | { error: string };

/** Reads a model's config and statistics with tritonclient over HTTP and gRPC. */
export async function tritonStatistics(options: {
  http: string;
  grpc: string;
  model: string;
}): Promise<{ http: StatisticsAnswer; grpc: StatisticsAnswer }> {
  const args = ['--http', options.http, '--grpc', options.grpc, '--model', options.model];
  const result = await runPython([join(scripts, 'batch_statistics.py'), ...args], 60_000);
  try {
    return lastJsonLine(result.stdout) as { http: StatisticsAnswer; grpc: StatisticsAnswer };
  } catch {
    throw new Error(
      `batch_statistics.py printed no JSON (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
}
