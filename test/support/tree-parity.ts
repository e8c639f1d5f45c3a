// Parity helpers for the tree runtimes' integration tests (tree-runtimes.test.ts,
// xgboost-versions.test.ts): send a model's recorded rows over REST (binary tensor extension) or
// gRPC (raw contents) and compare the answer with what the Python library predicted.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpcClient, type GrpcTestClient } from './grpc-client.js';
import type { TreeExpectation } from './python-peer.js';
import { startServer, type ServerProcess } from './server-process.js';

/** Relative tolerance of every parity check. */
export const TOLERANCE = 1e-5;

/** One output tensor as either protocol returned it, values as numbers. */
export interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

/** Largest relative deviation between two arrays (0 where both are 0). */
export function maxRelative(actual: readonly number[], expected: readonly number[]): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? Number.NaN;
    const b = expected[i] ?? Number.NaN;
    const diff = Math.abs(a - b);
    const rel = diff === 0 ? 0 : diff / Math.max(Math.abs(a), Math.abs(b));
    worst = Math.max(worst, Number.isNaN(rel) ? Number.POSITIVE_INFINITY : rel);
  }
  return worst;
}

/** The V2 datatype numpy's dtype becomes (MLServer's NumpyCodec). */
const DATATYPE: Record<string, string> = {
  float32: 'FP32',
  float64: 'FP64',
  int64: 'INT64',
  int32: 'INT32',
};

function rawValues(datatype: string, bytes: Buffer): number[] {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (datatype) {
    case 'FP32':
      return Array.from(new Float32Array(buffer));
    case 'FP64':
      return Array.from(new Float64Array(buffer));
    case 'INT32':
      return Array.from(new Int32Array(buffer));
    case 'INT64':
      return Array.from(new BigInt64Array(buffer), Number);
    default:
      throw new Error(`unexpected datatype ${datatype}`);
  }
}

/** Sends the rows of `doc` to `path` over REST, with the binary tensor extension. */
export async function restInfer(
  server: ServerProcess,
  path: string,
  inputName: string,
  doc: TreeExpectation,
  outputs: readonly string[],
): Promise<{ status: number; body: { outputs?: Tensor[]; error?: string } }> {
  const raw = Buffer.from(doc.data, 'base64');
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: inputName,
          datatype: 'FP32',
          shape: [doc.rows, doc.features],
          parameters: { binary_data_size: raw.length },
        },
      ],
      outputs: outputs.map((name) => ({ name })),
    }),
  );
  const response = await fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
    body: Buffer.concat([header, raw]),
  });
  return { status: response.status, body: (await response.json()) as never };
}

/** Sends the rows of `doc` to `model` over gRPC, as raw input contents. */
export async function grpcInfer(
  client: GrpcTestClient,
  model: string,
  doc: TreeExpectation,
  outputs: readonly string[],
): Promise<Tensor[]> {
  const response = await client.call<{
    outputs: { name: string; datatype: string; shape: string[] }[];
    raw_output_contents: Buffer[];
  }>('ModelInfer', {
    model_name: model,
    inputs: [{ name: 'input-0', datatype: 'FP32', shape: [doc.rows, doc.features] }],
    raw_input_contents: [Buffer.from(doc.data, 'base64')],
    outputs: outputs.map((name) => ({ name })),
  });
  return response.outputs.map((o, i) => ({
    name: o.name,
    datatype: o.datatype,
    shape: o.shape.map(Number),
    data: rawValues(o.datatype, response.raw_output_contents[i] ?? Buffer.alloc(0)),
  }));
}

/** Asserts one returned tensor against the library's output; returns the deviation. */
export function assertMatches(
  model: string,
  got: Tensor | undefined,
  expected: TreeExpectation['outputs'][string],
): number {
  assert.ok(got, `${model}: output missing`);
  assert.equal(got.datatype, DATATYPE[expected.dtype], `${model} ${got.name}: datatype`);
  // MLServer's codec gives 1-D predictions a second dimension ([N] is sent as [N, 1]).
  const shape = expected.shape.length === 1 ? [...expected.shape, 1] : expected.shape;
  assert.deepEqual(got.shape, shape, `${model} ${got.name}: shape`);
  const deviation = maxRelative(got.data, expected.data);
  assert.ok(deviation <= TOLERANCE, `${model} ${got.name}: max relative deviation ${deviation}`);
  return deviation;
}

/** Reads `<dir>/expected/<model>.json` files, as the Python scripts write them, by model name. */
export async function readExpectations(dir: string): Promise<Map<string, TreeExpectation>> {
  const expected = new Map<string, TreeExpectation>();
  for (const file of await readdir(join(dir, 'expected'))) {
    const doc = JSON.parse(await readFile(join(dir, 'expected', file), 'utf8')) as TreeExpectation;
    expected.set(file.replace(/\.json$/, ''), doc);
  }
  return expected;
}

/**
 * Sends every model's rows over REST and gRPC, asks for every output the library gave and asserts
 * each answer within {@link TOLERANCE}; returns the largest deviation and where it was.
 */
export async function assertParity(
  server: ServerProcess,
  client: GrpcTestClient,
  expected: ReadonlyMap<string, TreeExpectation>,
): Promise<{ deviation: number; where: string }> {
  let worst = { deviation: 0, where: '' };
  for (const [model, doc] of expected) {
    const outputs = Object.keys(doc.outputs);
    const rest = await restInfer(server, `/v2/models/${model}/infer`, 'input-0', doc, outputs);
    assert.equal(rest.status, 200, `${model}: ${JSON.stringify(rest.body).slice(0, 300)}`);
    const grpc = await grpcInfer(client, model, doc, outputs);
    for (const name of outputs) {
      const want = doc.outputs[name];
      assert.ok(want);
      for (const [protocol, tensors] of [
        ['rest', rest.body.outputs ?? []],
        ['grpc', grpc],
      ] as const) {
        const deviation = assertMatches(
          `${model} (${protocol})`,
          tensors.find((o) => o.name === name),
          want,
        );
        if (deviation > worst.deviation) worst = { deviation, where: `${model} ${name}` };
      }
    }
  }
  return worst;
}

/** One entry of the repository index. */
export interface IndexEntry {
  name: string;
  state: string;
  reason: string;
}

/** The server's repository index (`POST /v2/repository/index`). */
export async function repositoryIndex(server: ServerProcess): Promise<IndexEntry[]> {
  const response = await fetch(`${server.httpUrl}/v2/repository/index`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(response.status, 200);
  return (await response.json()) as IndexEntry[];
}

/** A server on a temporary folder of tree models, with the outputs the libraries predicted. */
export interface TreeModelServer {
  readonly dir: string;
  readonly server: ServerProcess;
  readonly client: GrpcTestClient;
  /** `expected/<model>.json` of the folder, by model name. */
  readonly expected: ReadonlyMap<string, TreeExpectation>;
  /** Closes the client, stops the server and removes the folder. */
  close(): Promise<void>;
}

/**
 * Makes a temporary folder (`prefix` names it), lets `make` write `models/` and `expected/` into
 * it, and serves `models/` with the built server over REST and gRPC.
 */
export async function serveTreeModels(
  prefix: string,
  make: (dir: string) => Promise<void>,
): Promise<TreeModelServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await make(dir);
    const expected = await readExpectations(dir);
    const server = await startServer({ folder: join(dir, 'models'), timeoutMs: 60_000 });
    const client = grpcClient(server.grpcAddress);
    return {
      dir,
      server,
      client,
      expected,
      close: async () => {
        client.close();
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
