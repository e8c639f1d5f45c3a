// MLServer's Alibi Detect runtime (mlserver_alibi_detect.AlibiDetectRuntime) served unchanged by
// Tessera's Python worker AND by real MLServer 1.7.1 on the same folder, with the same requests: a
// Kolmogorov-Smirnov feature drift detector built and saved in the test
// (test/peers/mlserver-alibi/make_detector.py; the virtualenv is
// test/peers/mlserver-alibi.peer.mjs). Tessera's REST and gRPC answers equal MLServer's,
// its metadata MLServer's, and the drift flags in them are what the detector itself computes: no
// drift on a batch from the reference distribution, drift on every feature of a shifted one.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { grpcAnswer, type GrpcReply } from '../../support/grpc-values.js';
import { mlserverAlibiPython } from '../../support/mlserver-peer.js';
import {
  assertMetadataAsMlserver,
  buildModels,
  restAnswer,
  startSideBySide,
  type MlserverProcess,
  type SideBySide,
} from '../../support/mlserver-process.js';
import type { ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

const MODEL = 'drift';

interface Made {
  batches: Record<'same' | 'shifted', number[][]>;
  /** The detector's own `is_drift` per feature for each batch. */
  expected: Record<'same' | 'shifted', number[]>;
}

function request(rows: number[][]) {
  return {
    inputs: [{ name: 'predict', datatype: 'FP32', shape: [rows.length, 3], data: rows.flat() }],
  };
}

function grpcRequest(rows: number[][]) {
  return {
    model_name: MODEL,
    inputs: [
      {
        name: 'predict',
        datatype: 'FP32',
        shape: [rows.length, 3],
        contents: { fp32_contents: rows.flat() },
      },
    ],
  };
}

describe('MLServer 1.7.1 Alibi Detect runtime: Tessera answers as MLServer does', () => {
  let root: string;
  let made: Made;
  let servers: SideBySide | undefined;
  let tessera: ServerProcess;
  let mlserver: MlserverProcess;
  let grpc: SideBySide['grpc'];

  before(async () => {
    const python = mlserverAlibiPython();
    const built = await buildModels(
      python,
      'mlserver-alibi/make_detector.py',
      'tessera-alibi-detect-',
    );
    root = built.root;
    made = built.made as Made;
    servers = await startSideBySide({ python, folder: root, models: [MODEL], timeoutMs: 240_000 });
    ({ tessera, mlserver, grpc } = servers);
  });

  after(async () => {
    await servers?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("answers REST inference as MLServer does, with the detector's own drift flags", async () => {
    assert.deepEqual(made.expected, { same: [0, 0, 0], shifted: [1, 1, 1] });
    for (const name of ['same', 'shifted'] as const) {
      const [ours, theirs] = await Promise.all(
        [tessera, mlserver].map((s) =>
          postJson(`${s.httpUrl}/v2/models/${MODEL}/infer`, request(made.batches[name])),
        ),
      );
      assert.equal(theirs!.status, 200, `MLServer ${JSON.stringify(theirs!.body)}`);
      assert.equal(ours!.status, 200, `Tessera ${JSON.stringify(ours!.body)}`);
      assert.deepEqual(restAnswer(ours!.body), restAnswer(theirs!.body), name);
      const outputs = (ours!.body as { outputs: { name: string; data: number[] }[] }).outputs;
      assert.deepEqual(outputs.find((o) => o.name === 'is_drift')?.data, made.expected[name]);
    }
  });

  it('answers gRPC ModelInfer as MLServer does', async () => {
    for (const name of ['same', 'shifted'] as const) {
      const [ours, theirs] = await Promise.all([
        grpc.tessera.call<GrpcReply>('ModelInfer', grpcRequest(made.batches[name])),
        grpc.mlserver.call<GrpcReply>('ModelInfer', grpcRequest(made.batches[name])),
      ]);
      assert.deepEqual(grpcAnswer(ours), grpcAnswer(theirs), name);
    }
  });

  it('reports the model metadata as MLServer does, and that the Python worker serves it', async () => {
    await assertMetadataAsMlserver(
      { tessera, mlserver },
      MODEL,
      'mlserver_alibi_detect.AlibiDetectRuntime',
    );
  });

  it('refuses rows of the wrong width as MLServer does, and keeps serving', async () => {
    const [ours, theirs] = await Promise.all(
      [tessera, mlserver].map((s) =>
        postJson(`${s.httpUrl}/v2/models/${MODEL}/infer`, {
          inputs: [{ name: 'predict', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] }],
        }),
      ),
    );
    assert.equal(ours!.status, theirs!.status, JSON.stringify(ours!.body));
    assert.ok(ours!.status >= 400, JSON.stringify(ours!.body));
    assert.doesNotMatch(JSON.stringify(ours!.body), /Traceback|site-packages/);
    const good = await postJson(
      `${tessera.httpUrl}/v2/models/${MODEL}/infer`,
      request(made.batches.same),
    );
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});
