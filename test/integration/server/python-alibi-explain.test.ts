// MLServer's Alibi Explain runtime (mlserver_alibi_explain.AlibiExplainRuntime) served unchanged
// by Tessera's Python worker AND by real MLServer 1.7.1 on the same folder: an anchor explainer
// (alibi's AnchorTabular) fitted and saved in the test (test/peers/mlserver-alibi/
// make_explainer.py), black-box, so at load and for every explanation it asks an iris classifier
// over V2 for predictions: Tessera serving examples/models/iris natively, the same for both. Anchors
// are found by sampling, so two processes do not find the same anchor; the tests check what does
// not depend on the draw: the answer's form and the explainer's metadata are MLServer's, the
// explained prediction is the classifier's own, and the anchor is a rule on the iris features.
// The runtime's custom REST handler (`POST /explain`, the explanation as plain JSON) answers too.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { mlserverAlibiPython } from '../../support/mlserver-peer.js';
import {
  assertMetadataAsMlserver,
  buildModels,
  restAnswer,
  startSideBySide,
  type MlserverProcess,
  type SideBySide,
} from '../../support/mlserver-process.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

const MODEL = 'iris-explainer';

interface Made {
  rows: number[][];
  features: string[];
}

interface Explanation {
  meta: { name: string; params: Record<string, unknown> };
  data: { anchor: string[]; precision: number; coverage: number; raw: { prediction: unknown } };
}

interface V2Answer {
  parameters?: Record<string, unknown>;
  outputs: {
    name: string;
    datatype: string;
    shape: number[];
    parameters?: unknown;
    data: string[];
  }[];
}

function request(row: number[]) {
  return { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: row }] };
}

/**
 * The answer without its id and its explanation (which differs by draw), and the explanation
 * parsed. The runtime's `parameters.headers` become HTTP headers in both servers; MLServer leaves
 * an empty `parameters` behind, which restAnswer drops.
 */
function split(body: unknown): { form: unknown; explanation: Explanation } {
  const { outputs, parameters } = restAnswer(body) as V2Answer;
  const [output] = outputs;
  assert.ok(output !== undefined && outputs.length === 1, JSON.stringify(body));
  const { data, ...form } = output;
  return {
    form: { parameters, output: form },
    explanation: JSON.parse(data[0] ?? 'null') as Explanation,
  };
}

describe('MLServer 1.7.1 Alibi Explain runtime: Tessera serves it as MLServer does', () => {
  let root: string;
  let made: Made;
  let predictor: ServerProcess | undefined;
  let servers: SideBySide | undefined;
  let tessera: ServerProcess;
  let mlserver: MlserverProcess;

  /** The classifier's own label for a row (the prediction an anchor explains). */
  async function label(row: number[]): Promise<number> {
    const answer = await postJson(`${predictor!.httpUrl}/v2/models/iris/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }],
    });
    const outputs = (answer.body as { outputs: { name: string; data: number[] }[] }).outputs;
    return outputs.find((o) => o.name === 'label')?.data[0] ?? NaN;
  }

  before(async () => {
    const python = mlserverAlibiPython();
    predictor = await startServer({ folder: 'examples/models' });
    const inferUri = `${predictor.httpUrl}/v2/models/iris/infer`;
    const built = await buildModels(python, 'mlserver-alibi/make_explainer.py', 'tessera-alibi-', [
      '--infer-uri',
      inferUri,
    ]);
    root = built.root;
    made = built.made as Made;
    servers = await startSideBySide({ python, folder: root, models: [MODEL], timeoutMs: 240_000 });
    ({ tessera, mlserver } = servers);
  });

  after(async () => {
    await servers?.stop();
    await predictor?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it("explains each row as MLServer does, the classifier's prediction with an anchor on its features", async () => {
    const labels = new Set<number>();
    for (const row of made.rows) {
      const [ours, theirs] = await Promise.all(
        [tessera, mlserver].map((s) =>
          postJson(`${s.httpUrl}/v2/models/${MODEL}/infer`, request(row)),
        ),
      );
      assert.equal(theirs!.status, 200, `MLServer ${JSON.stringify(theirs!.body)}`);
      assert.equal(ours!.status, 200, `Tessera ${JSON.stringify(ours!.body)}`);
      const a = split(ours!.body);
      const b = split(theirs!.body);
      assert.deepEqual(a.form, b.form);
      assert.deepEqual(a.explanation.meta, b.explanation.meta);
      assert.equal(a.explanation.meta.name, 'AnchorTabular');
      // The runtime's parameters.headers, as HTTP headers in both servers.
      for (const answer of [ours!, theirs!]) {
        assert.deepEqual(
          [answer.headers.get('x-seldon-alibi-type'), answer.headers.get('x-seldon-alibi-method')],
          ['explanation', 'anchor_tabular'],
        );
      }
      const predicted = await label(row);
      labels.add(predicted);
      for (const explanation of [a.explanation, b.explanation]) {
        assert.deepEqual(explanation.data.raw.prediction, [predicted]);
        assert.ok(explanation.data.anchor.length > 0, JSON.stringify(explanation.data.anchor));
        for (const condition of explanation.data.anchor) {
          assert.ok(
            made.features.some((f) => condition.includes(f)),
            `'${condition}' names an iris feature`,
          );
        }
        assert.ok(explanation.data.precision > 0 && explanation.data.precision <= 1);
      }
    }
    // The rows are of three different classes, so a constant prediction would fail above.
    assert.equal(labels.size, 3);
  });

  it("answers the runtime's custom handler POST /explain with the plain explanation", async () => {
    const row = made.rows[1]!;
    const [ours, theirs] = await Promise.all(
      [tessera, mlserver].map(async (s) => {
        const response = await fetch(`${s.httpUrl}/explain`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request(row)),
        });
        return {
          status: response.status,
          type: response.headers.get('content-type'),
          explanation: (await response.json()) as Explanation,
        };
      }),
    );
    assert.equal(ours!.status, 200);
    assert.deepEqual(
      [ours!.status, ours!.type, ours!.explanation.meta],
      [theirs!.status, theirs!.type, theirs!.explanation.meta],
    );
    assert.deepEqual(ours!.explanation.data.raw.prediction, [await label(row)]);
  });

  it('reports the model metadata as MLServer does, and that the Python worker serves it', async () => {
    await assertMetadataAsMlserver(
      { tessera, mlserver },
      MODEL,
      'mlserver_alibi_explain.AlibiExplainRuntime',
    );
  });
});
