// mlserver_sklearn.SKLearnModel, MLServer's own scikit-learn runtime, served unchanged by Tessera's
// Python worker: a joblib pickle trained in this test with the mlserver virtualenv's scikit-learn
// (test/peers/mlserver/train_sklearn.py), chosen with `parameters.serve_with: "python"` (the native
// runtime reads only ONNX), answering REST and gRPC with the labels and probabilities scikit-learn
// itself computed, through MLServer's `outputs` selection (predict, predict_proba).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GrpcTestClient } from '../../support/grpc-client.js';
import {
  mlserverPython,
  startPythonServer,
  type PythonServer,
} from '../../support/mlserver-peer.js';
import { lastJsonLine, runPython } from '../../support/python-peer.js';
import { REPO_ROOT, type ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

interface Trained {
  sklearn: string;
  rows: number[][];
  predict: number[];
  predict_proba: number[][];
}

interface RestOutput {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

interface GrpcReply {
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

/** A copy of a raw output as a typed array (a copy: Buffers may be unaligned views). */
function rawValues(raw: Buffer, datatype: string): number[] {
  const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  if (datatype === 'INT64') return Array.from(new BigInt64Array(bytes), Number);
  assert.equal(datatype, 'FP64');
  return Array.from(new Float64Array(bytes));
}

describe('mlserver_sklearn.SKLearnModel in the Python worker', () => {
  let root: string;
  let trained: Trained;
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let running: PythonServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-sklearn-'));
    const folder = join(root, 'iris-pickle');
    const script = join(REPO_ROOT, 'test', 'peers', 'mlserver', 'train_sklearn.py');
    const run = await runPython([script, '--out', folder], 120_000, undefined, mlserverPython());
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    trained = lastJsonLine(run.stdout) as Trained;
    await writeFile(
      join(folder, 'model-settings.json'),
      JSON.stringify({
        name: 'iris-pickle',
        implementation: 'mlserver_sklearn.SKLearnModel',
        parameters: { uri: './model.joblib', serve_with: 'python' },
      }),
    );
    running = await startPythonServer(root);
    ({ server, grpc } = running);
  });

  after(async () => {
    if (running !== undefined) await running.stop();
    else await rm(root, { recursive: true, force: true });
  });

  it('answers REST with the labels and probabilities scikit-learn computed', async () => {
    const rest = await postJson(`${server.httpUrl}/v2/models/iris-pickle/infer`, {
      inputs: [{ name: 'predict', datatype: 'FP64', shape: [3, 4], data: trained.rows.flat() }],
      outputs: [{ name: 'predict' }, { name: 'predict_proba' }],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const outputs = (rest.body as { outputs: RestOutput[] }).outputs;
    const byName = new Map(outputs.map((o) => [o.name, o]));
    assert.deepEqual([...byName.keys()].sort(), ['predict', 'predict_proba']);
    assert.deepEqual(byName.get('predict')?.data, trained.predict);
    assert.equal(byName.get('predict')?.datatype, 'INT64');
    assert.deepEqual(byName.get('predict_proba')?.shape, [3, 3]);
    // The same doubles, bit for bit: both sides print the shortest round-trip form.
    assert.deepEqual(byName.get('predict_proba')?.data, trained.predict_proba.flat());
  });

  it('answers with predict alone when no outputs are named (MLServer default)', async () => {
    const rest = await postJson(`${server.httpUrl}/v2/models/iris-pickle/infer`, {
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [3, 4], data: trained.rows.flat() }],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const outputs = (rest.body as { outputs: RestOutput[] }).outputs;
    assert.deepEqual(
      outputs.map((o) => o.name),
      ['predict'],
    );
    assert.deepEqual(outputs[0]?.data, trained.predict);
  });

  it('answers gRPC ModelInfer with the same values as raw contents', async () => {
    const reply = await grpc.call<GrpcReply>('ModelInfer', {
      model_name: 'iris-pickle',
      inputs: [
        {
          name: 'predict',
          datatype: 'FP64',
          shape: [3, 4],
          contents: { fp64_contents: trained.rows.flat() },
        },
      ],
      outputs: [{ name: 'predict_proba' }, { name: 'predict' }],
    });
    const values = new Map(
      reply.outputs.map((o, i) => [o.name, rawValues(reply.raw_output_contents[i]!, o.datatype)]),
    );
    assert.deepEqual(values.get('predict'), trained.predict);
    assert.deepEqual(values.get('predict_proba'), trained.predict_proba.flat());
  });
});
