// The XGBoost and LightGBM runtimes against the libraries themselves: test/peers/python/
// tree_models.py trains real models (1,200 rows with NaNs and categorical features, one model per
// objective, plus MLServer's mushroom-xgboost and iris-lightgbm walk-throughs), predicts with
// xgboost/lightgbm loaded as MLServer loads them, and the server must answer the same rows with
// the same outputs over REST (binary tensor extension) and gRPC (raw contents), within 1e-5
// relative. Files the runtimes cannot read (truncated, corrupt, a joblib pickle, another
// framework's model) leave their model UNAVAILABLE with a reason naming the file and the server
// serving the rest.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTreeModels, type TreeExpectation } from '../../support/python-peer.js';
import type { ServerProcess } from '../../support/server-process.js';
import {
  TOLERANCE,
  assertParity,
  maxRelative,
  repositoryIndex,
  restInfer,
  serveTreeModels,
  type TreeModelServer,
} from '../../support/tree-parity.js';

void describe('XGBoost and LightGBM runtimes match the Python libraries', () => {
  let trees: TreeModelServer;
  let server: ServerProcess;
  let expected: ReadonlyMap<string, TreeExpectation>;
  const BAD = new Map<string, string>();

  before(async () => {
    trees = await serveTreeModels('tessera-trees-', async (dir) => {
      await makeTreeModels(dir);
      await addBadArtefacts(dir, BAD);
    });
    ({ server, expected } = trees);
  });

  after(() => trees.close());

  void it('answers every model with the library outputs over REST and gRPC', async (t) => {
    assert.ok(expected.size >= 35, `trained ${expected.size} models`);
    // Reported per runtime: the closing figure for each evaluator.
    const lightgbm = (name: string): boolean => name.startsWith('lgb-') || name === 'iris-lgb';
    for (const [runtime, keep] of [
      ['XGBoost', (name: string) => !lightgbm(name)],
      ['LightGBM', lightgbm],
    ] as const) {
      const subset = new Map([...expected].filter(([name]) => keep(name)));
      assert.ok(subset.size >= 10, `${runtime}: ${subset.size} models`);
      const worst = await assertParity(server, trees.client, subset);
      t.diagnostic(
        `${runtime}: largest relative deviation ${worst.deviation.toExponential(2)} (${worst.where}) over ${subset.size} models`,
      );
    }
  });

  void it('serves MLServer walk-through requests: mushroom-xgboost and iris-lightgbm', async () => {
    const mushroom = expected.get('mushroom-xgboost');
    const iris = expected.get('iris-lgb');
    assert.ok(mushroom && iris);
    const first = (doc: TreeExpectation): TreeExpectation => ({
      ...doc,
      rows: 1,
      data: Buffer.from(doc.data, 'base64')
        .subarray(0, doc.features * 4)
        .toString('base64'),
    });
    const m = await restInfer(
      server,
      '/v2/models/mushroom-xgboost/versions/v0.1.0/infer',
      'predict',
      first(mushroom),
      [],
    );
    assert.equal(m.status, 200, JSON.stringify(m.body));
    const [prediction] = m.body.outputs ?? [];
    assert.equal(prediction?.name, 'predict');
    assert.ok(
      maxRelative(prediction.data, [mushroom.outputs['predict']?.data[0] ?? -1]) <= TOLERANCE,
    );
    const i = await restInfer(
      server,
      '/v2/models/iris-lgb/versions/v0.1.0/infer',
      'predict-prob',
      first(iris),
      [],
    );
    assert.equal(i.status, 200, JSON.stringify(i.body));
    const [probabilities] = i.body.outputs ?? [];
    assert.deepEqual(probabilities?.shape, [1, 3]);
    assert.ok(
      maxRelative(probabilities.data, iris.outputs['predict']?.data.slice(0, 3) ?? []) <= TOLERANCE,
    );
    assert.ok(Math.abs(probabilities.data.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  });

  void it('refuses predict_proba on regressors and wrong feature counts with a 400', async () => {
    const regressor = expected.get('xgb-reg-gamma');
    assert.ok(regressor);
    const proba = await restInfer(server, '/v2/models/xgb-reg-gamma/infer', 'x', regressor, [
      'predict_proba',
    ]);
    assert.equal(proba.status, 400);
    assert.match(proba.body.error ?? '', /only classifiers have predict_proba/);
    const lgbProba = await restInfer(server, '/v2/models/lgb-regression/infer', 'x', regressor, [
      'predict_proba',
    ]);
    assert.equal(lgbProba.status, 400);
    assert.match(lgbProba.body.error ?? '', /only classifiers have predict_proba/);
    const narrow = { ...regressor, features: regressor.features - 1 };
    narrow.rows = Math.floor(Buffer.from(regressor.data, 'base64').length / 4 / narrow.features);
    narrow.data = Buffer.from(regressor.data, 'base64')
      .subarray(0, narrow.rows * narrow.features * 4)
      .toString('base64');
    for (const model of ['xgb-reg-gamma', 'lgb-regression']) {
      const wrong = await restInfer(server, `/v2/models/${model}/infer`, 'x', narrow, []);
      assert.equal(wrong.status, 400);
      assert.match(
        wrong.body.error ?? '',
        new RegExp(
          `shape \\[${narrow.rows},${narrow.features}\\] does not match the model's \\[-1,${regressor.features}\\]`,
        ),
      );
    }
  });

  void it('leaves unreadable artefacts UNAVAILABLE with a reason naming the file type, and keeps serving', async () => {
    const index = await repositoryIndex(server);
    for (const [model, says] of BAD) {
      const entry = index.find((e) => e.name === model);
      assert.equal(entry?.state, 'UNAVAILABLE', `${model}: ${JSON.stringify(entry)}`);
      assert.ok(entry.reason.includes(says), `${model}: '${entry.reason}' should say '${says}'`);
      assert.doesNotMatch(entry.reason, /tessera-trees-|\/tmp\/|at .*\.ts:\d+/);
    }
    const good = index.filter((e) => expected.has(e.name));
    assert.equal(good.length, expected.size);
    assert.ok(good.every((e) => e.state === 'READY'));
    const doc = expected.get('lgb-binary');
    assert.ok(doc);
    const still = await restInfer(server, '/v2/models/lgb-binary/infer', 'input-0', doc, [
      'predict',
    ]);
    assert.equal(still.status, 200);
  });
});

/** Writes models whose files the runtimes cannot read, with what each load error must say. */
async function addBadArtefacts(dir: string, bad: Map<string, string>): Promise<void> {
  const models = join(dir, 'models');
  const xgbJson = await readFile(join(models, 'xgb-binary-logistic', 'model.json'));
  const xgbUbj = await readFile(join(models, 'xgb-binary-logistic-ubj', 'model.ubj'));
  const lgbText = await readFile(join(models, 'lgb-binary', 'model.txt'));
  const joblib = join(dir, 'artefacts', 'model.joblib');
  const cases: [string, string, string, Buffer | string, string][] = [
    [
      'bad-xgb-truncated-json',
      'xgboost',
      'model.json',
      xgbJson.subarray(0, xgbJson.length / 2),
      'model.json is not valid JSON (is it truncated?)',
    ],
    [
      'bad-xgb-truncated-ubj',
      'xgboost',
      'model.ubj',
      xgbUbj.subarray(0, xgbUbj.length / 2),
      'model.ubj is not valid UBJSON (is it truncated?)',
    ],
    [
      'bad-xgb-corrupt-json',
      'xgboost',
      'model.json',
      '{"learner": {"objective": 3}}',
      'not an XGBoost model',
    ],
    [
      'bad-xgb-legacy-binary',
      'xgboost',
      'model.bst',
      Buffer.from([0, 0, 0, 63, 126, 0, 0, 0, 1, 2, 3, 4]),
      'booster.save_model("model.json")',
    ],
    [
      'bad-xgb-lightgbm-file',
      'xgboost',
      'model.txt',
      lgbText,
      "model.txt is a LightGBM text model, which the 'xgboost' implementation (XGBoost) does not read; it is read by the 'lightgbm' implementation",
    ],
    [
      'bad-xgb-joblib',
      'mlserver_xgboost.XGBoostModel',
      'model.joblib',
      joblib,
      'model.joblib is a Python pickle/joblib file',
    ],
    [
      'bad-lgb-truncated',
      'lightgbm',
      'model.txt',
      lgbText.subarray(0, lgbText.length / 2),
      'is it truncated?',
    ],
    [
      'bad-lgb-xgboost-file',
      'lightgbm',
      'model.json',
      xgbJson,
      "model.json is an XGBoost JSON model, which the 'lightgbm' implementation (LightGBM) does not read; it is read by the 'xgboost' implementation",
    ],
    [
      'bad-lgb-joblib',
      'mlserver_lightgbm.LightGBMModel',
      'model.joblib',
      joblib,
      'model.joblib is a Python pickle/joblib file',
    ],
  ];
  for (const [name, implementation, file, content, says] of cases) {
    await mkdir(join(models, name));
    if (typeof content === 'string' && content.startsWith(dir))
      await cp(content, join(models, name, file));
    else await writeFile(join(models, name, file), content);
    await writeFile(
      join(models, name, 'model-settings.json'),
      JSON.stringify({ name, implementation, parameters: { uri: `./${file}` } }),
    );
    bad.set(name, says);
  }
}
