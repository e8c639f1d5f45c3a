// MLServer's HuggingFace runtime (mlserver_huggingface.HuggingFaceRuntime) served unchanged by
// Tessera's Python worker AND by real MLServer 1.7.1 on the same folder, with the same requests:
// a tiny text-classification pipeline built here from a config, no hub download
// (test/peers/mlserver-huggingface/make_model.py; the virtualenv is
// test/peers/mlserver-huggingface.peer.mjs). Tessera's REST answers equal MLServer's REST answers,
// its gRPC answers MLServer's gRPC ones, its metadata MLServer's, and the labels and scores in
// them are what the pipeline itself computes for the same sentences.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { grpcAnswer, type GrpcReply } from '../../support/grpc-values.js';
import { mlserverHuggingfacePython } from '../../support/mlserver-peer.js';
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

const MODEL = 'hf-sentiment';

interface Made {
  sentences: string[];
  /** The pipeline's own answer for each sentence: [{ label, score }]. */
  expected: { label: string; score: number }[][];
}

/** MLServer's HuggingFace request: the pipeline's positional argument as a BYTES input. */
function request(sentences: string[]) {
  return {
    inputs: [{ name: 'args', datatype: 'BYTES', shape: [sentences.length], data: sentences }],
  };
}

function grpcRequest(sentences: string[]) {
  return {
    model_name: MODEL,
    inputs: [
      {
        name: 'args',
        datatype: 'BYTES',
        shape: [sentences.length],
        contents: { bytes_contents: sentences.map((s) => Buffer.from(s)) },
      },
    ],
  };
}

/** The JSON documents of a BYTES output (HuggingFace's `hg_jsonlist` / `str` answers). */
function documents(body: unknown): unknown[] {
  const outputs = (body as { outputs: { data: string[] }[] }).outputs;
  return outputs.flatMap((o) => o.data.map((d) => JSON.parse(d) as unknown));
}

describe('MLServer 1.7.1 HuggingFace runtime: Tessera answers as MLServer does', () => {
  let root: string;
  let made: Made;
  let servers: SideBySide | undefined;
  let tessera: ServerProcess;
  let mlserver: MlserverProcess;
  let grpc: SideBySide['grpc'];
  const offline = { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };

  before(async () => {
    const python = mlserverHuggingfacePython();
    // The pipeline is built, and both servers (which inherit the test's environment) load it, from
    // its folder: never from the hub.
    Object.assign(process.env, offline);
    const built = await buildModels(
      python,
      'mlserver-huggingface/make_model.py',
      'tessera-huggingface-',
    );
    root = built.root;
    made = built.made as Made;
    servers = await startSideBySide({
      python,
      folder: root,
      models: [MODEL],
      timeoutMs: 240_000,
    });
    ({ tessera, mlserver, grpc } = servers);
  });

  after(async () => {
    await servers?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("answers REST inference as MLServer does, with the pipeline's own labels and scores", async () => {
    for (const [i, sentence] of made.sentences.entries()) {
      const [ours, theirs] = await Promise.all([
        postJson(`${tessera.httpUrl}/v2/models/${MODEL}/infer`, request([sentence])),
        postJson(`${mlserver.httpUrl}/v2/models/${MODEL}/infer`, request([sentence])),
      ]);
      assert.equal(theirs.status, 200, `MLServer ${JSON.stringify(theirs.body)}`);
      assert.equal(ours.status, 200, `Tessera ${JSON.stringify(ours.body)}`);
      assert.deepEqual(restAnswer(ours.body), restAnswer(theirs.body), sentence);
      const [answered] = documents(ours.body) as { label: string; score: number }[];
      const [expected] = made.expected[i] ?? [];
      assert.equal(answered?.label, expected?.label, sentence);
      assert.ok(Math.abs((answered?.score ?? NaN) - (expected?.score ?? NaN)) < 1e-6, sentence);
    }
    // The seed gives the sentences different labels, so a constant answer would fail above.
    assert.equal(new Set(made.expected.map((e) => e[0]?.label)).size, 2);
  });

  it('answers gRPC ModelInfer as MLServer does', async () => {
    for (const sentence of made.sentences) {
      const [ours, theirs] = await Promise.all([
        grpc.tessera.call<GrpcReply>('ModelInfer', grpcRequest([sentence])),
        grpc.mlserver.call<GrpcReply>('ModelInfer', grpcRequest([sentence])),
      ]);
      assert.deepEqual(grpcAnswer(ours), grpcAnswer(theirs), sentence);
    }
  });

  it("reports the runtime's metadata as MLServer does, and that the Python worker serves it", async () => {
    await assertMetadataAsMlserver(
      { tessera, mlserver },
      MODEL,
      'mlserver_huggingface.HuggingFaceRuntime',
    );
  });

  it("fails a call the pipeline refuses with the pipeline's message, and keeps serving", async () => {
    // Two strings in `args` are two positional arguments, one more than the pipeline takes.
    const [bad, theirs] = await Promise.all(
      [tessera, mlserver].map((s) =>
        postJson(`${s.httpUrl}/v2/models/${MODEL}/infer`, request(made.sentences.slice(0, 2))),
      ),
    );
    assert.equal(theirs!.status, 500);
    assert.equal(bad!.status, 500);
    const error = (bad!.body as { error: string }).error;
    assert.match(error, /TypeError: .*takes 2 positional arguments but 3 were given/);
    assert.doesNotMatch(error, /Traceback|site-packages/);
    const good = await postJson(
      `${tessera.httpUrl}/v2/models/${MODEL}/infer`,
      request(made.sentences.slice(0, 1)),
    );
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});
