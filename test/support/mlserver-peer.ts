// TypeScript side of the mlserver peer (test/peers/mlserver.peer.mjs): the walk-through model
// folders built with the real libraries (test/peers/python/mlserver_models.py, main virtualenv)
// and a client that builds requests with the `mlserver` package's codecs and decodes the answers
// with its InferenceResponse (test/peers/mlserver/mlserver_client.py, mlserver virtualenv).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { grpcClient, type GrpcTestClient } from './grpc-client.js';
import { lastJsonLine, runPython } from './python-peer.js';
import { REPO_ROOT, startServer, type ServerProcess } from './server-process.js';

/** A peer's python from its environment variable, or an error naming the peer to run. */
function peerPython(variable: string, peer: string): string {
  const python = process.env[variable];
  if (python === undefined || python === '' || !existsSync(python)) {
    throw new Error(
      `${variable} is not set: run the tests through scripts/run-tests.mjs (test/peers/${peer})`,
    );
  }
  return python;
}

/** The mlserver virtualenv's python (TESSERA_MLSERVER_PYTHON). */
export function mlserverPython(): string {
  return peerPython('TESSERA_MLSERVER_PYTHON', 'mlserver.peer.mjs');
}

/**
 * The mlserver-runtimes virtualenv's python (TESSERA_MLSERVER_RUNTIMES_PYTHON: mlserver 1.7.1 with
 * mlserver-mlflow and mlserver-catboost, test/peers/mlserver-runtimes.peer.mjs).
 */
export function mlserverRuntimesPython(): string {
  return peerPython('TESSERA_MLSERVER_RUNTIMES_PYTHON', 'mlserver-runtimes.peer.mjs');
}

/**
 * The mlserver-huggingface virtualenv's python (TESSERA_MLSERVER_HUGGINGFACE_PYTHON: mlserver 1.7.1
 * with mlserver-huggingface, transformers, torch, test/peers/mlserver-huggingface.peer.mjs).
 */
export function mlserverHuggingfacePython(): string {
  return peerPython('TESSERA_MLSERVER_HUGGINGFACE_PYTHON', 'mlserver-huggingface.peer.mjs');
}

/**
 * The mlserver-alibi virtualenv's python (TESSERA_MLSERVER_ALIBI_PYTHON: mlserver 1.7.1 with
 * mlserver-alibi-detect, mlserver-alibi-explain, alibi-detect and alibi,
 * test/peers/mlserver-alibi.peer.mjs).
 */
export function mlserverAlibiPython(): string {
  return peerPython('TESSERA_MLSERVER_ALIBI_PYTHON', 'mlserver-alibi.peer.mjs');
}

/** A server on a model folder whose Python runtimes use the mlserver venv, and a gRPC client. */
export interface PythonServer {
  readonly server: ServerProcess;
  readonly grpc: GrpcTestClient;
  /** Closes the client, stops the server and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Starts the server on `root` with the mlserver venv's Python as its python_executable (and
 * `env`'s extra variables, e.g. settings).
 */
export async function startPythonServer(
  root: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<PythonServer> {
  const server = await startServer({
    folder: root,
    env: { TESSERA_PYTHON_EXECUTABLE: mlserverPython(), ...env },
    timeoutMs,
  });
  const grpc = grpcClient(server.grpcAddress);
  return {
    server,
    grpc,
    stop: async () => {
      grpc.close();
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface WalkthroughExpectations {
  mushroom: {
    rows: number[][];
    predict: number[];
    nan_rows: (number | null)[][];
    nan_predict: number[];
  };
  iris: { rows: number[][]; columns: string[]; predict: number[][] };
  mnist: { rows: number[][]; predict: number[] };
  iris_strings: {
    rows: number[][];
    predict: string[];
    predict_proba: number[][];
    classes: string[];
    onnx_outputs: string[];
  };
  text: { words: string[]; class_id: number[]; echo: string[] };
  mms_mushroom: WalkthroughExpectations['mushroom'];
  mms_mnist: WalkthroughExpectations['mnist'];
}

/** Builds `out/repo/<model>/` and `out/mms/models/<model>/` and returns the expectations. */
export async function makeWalkthroughModels(out: string): Promise<WalkthroughExpectations> {
  const script = join(REPO_ROOT, 'test', 'peers', 'python', 'mlserver_models.py');
  const result = await runPython([script, '--out', out], 600_000);
  if (result.code !== 0) {
    throw new Error(
      `mlserver_models.py failed (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
  return lastJsonLine(result.stdout) as WalkthroughExpectations;
}

/** One request for the mlserver client: a model, a codec and its fields (see mlserver_client.py). */
export interface MlserverCase {
  readonly id: string;
  readonly model: string;
  readonly version?: string;
  readonly codec:
    | 'np_request'
    | 'np_input'
    | 'pd'
    | 'str_request'
    | 'str_input'
    | 'base64_input'
    | 'datetime_input'
    | 'raw';
  readonly outputs?: readonly { name: string; content_type?: string }[];
  readonly transports?: readonly ('rest' | 'grpc')[];
  readonly [field: string]: unknown;
}

/** An output as MLServer's codecs decoded it. */
export interface DecodedOutput {
  name: string;
  datatype: string;
  shape: number[];
  content_type: string | null;
  decoded: { dtype: string; shape: number[]; values: unknown } | unknown[];
}

/** The answer to one case over one transport. */
export interface MlserverResult {
  id: string;
  transport: 'rest' | 'grpc';
  model_name?: string;
  model_version?: string | null;
  outputs?: DecodedOutput[];
  status?: number | string;
  error?: string;
}

/**
 * Sends every case over REST and gRPC with the mlserver package's codecs (of `python`'s mlserver,
 * the mlserver peer's by default).
 */
export async function mlserverRequests(
  server: { httpUrl: string; grpcAddress: string },
  cases: readonly MlserverCase[],
  python: string = mlserverPython(),
): Promise<MlserverResult[]> {
  const script = join(REPO_ROOT, 'test', 'peers', 'mlserver', 'mlserver_client.py');
  const input = JSON.stringify({
    http: new URL(server.httpUrl).host,
    grpc: server.grpcAddress,
    cases,
  });
  const result = await runPython([script], 300_000, input, python);
  if (result.code !== 0) {
    throw new Error(
      `mlserver_client.py failed (exit ${String(result.code)}): ${result.stderr.slice(-2000)}`,
    );
  }
  return (lastJsonLine(result.stdout) as { results: MlserverResult[] }).results;
}
