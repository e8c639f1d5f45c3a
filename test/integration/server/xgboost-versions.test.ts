// Models written by older XGBoost releases (test/peers/xgboost-versions.peer.mjs: xgboost 1.7 and
// 2.1, each in its own virtualenv; tree-runtimes.test.ts covers 3.x): test/peers/python/
// xgboost_versions.py trains binary:logistic on rows with NaNs, multi:softprob, reg:squarederror
// (with and without early stopping), a categorical model and a DART booster with each release,
// saves each as JSON and as UBJSON, and records that release's own predictions (loaded as
// MLServer's runtime loads them). One server serves them all and must answer within 1e-5
// relative over REST and gRPC. Each release's legacy binary `model.bst` must leave its model
// UNAVAILABLE with a reason naming the format, the release that wrote it and how to re-save it,
// while the server serves the rest.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  XGBOOST_RELEASES,
  makeXgboostVersionModels,
  type TreeExpectation,
  type XgboostVersionModels,
} from '../../support/python-peer.js';
import type { ServerProcess } from '../../support/server-process.js';
import {
  assertParity,
  repositoryIndex,
  restInfer,
  serveTreeModels,
  type TreeModelServer,
} from '../../support/tree-parity.js';

const RELEASES = Object.keys(XGBOOST_RELEASES) as (keyof typeof XGBOOST_RELEASES)[];

void describe('XGBoost models written by xgboost 1.7 and 2.1', () => {
  let trees: TreeModelServer;
  let server: ServerProcess;
  let expected: ReadonlyMap<string, TreeExpectation>;
  const trained = new Map<string, XgboostVersionModels>();

  before(async () => {
    trees = await serveTreeModels('tessera-xgb-versions-', async (dir) => {
      for (const release of RELEASES) {
        trained.set(release, await makeXgboostVersionModels(release, dir));
      }
    });
    ({ server, expected } = trees);
  });

  after(() => trees.close());

  for (const release of RELEASES) {
    void it(`answers xgboost ${release}'s JSON and UBJSON models with its predictions over REST and gRPC`, async (t) => {
      const run = trained.get(release);
      assert.ok(run);
      assert.ok(run.xgboost.startsWith(`${release}.`), `trained with xgboost ${run.xgboost}`);
      assert.equal(run.models.length, 12, run.models.join(', '));
      for (const encoding of ['json', 'ubj']) {
        assert.equal(run.models.filter((m) => m.endsWith(`-${encoding}`)).length, 6);
      }
      const mine = new Map(run.models.map((m) => [m, expected.get(m)] as const));
      for (const [model, doc] of mine) assert.ok(doc, `${model}: no expected outputs`);
      const worst = await assertParity(server, trees.client, mine as Map<string, TreeExpectation>);
      t.diagnostic(
        `xgboost ${run.xgboost}: largest relative deviation ${worst.deviation.toExponential(2)} (${worst.where})`,
      );
    });
  }

  void it('leaves each legacy binary model UNAVAILABLE, saying how to re-save it, and serves the rest', async () => {
    const index = await repositoryIndex(server);
    for (const release of RELEASES) {
      const run = trained.get(release);
      assert.ok(run);
      const entry = index.find((e) => e.name === run.legacy);
      assert.equal(entry?.state, 'UNAVAILABLE', `${run.legacy}: ${JSON.stringify(entry)}`);
      assert.ok(
        entry.reason.includes(
          `model.bst is in XGBoost's legacy binary format (written by xgboost ${release})`,
        ),
        entry.reason,
      );
      assert.ok(entry.reason.includes('booster.save_model("model.json")'), entry.reason);
      assert.doesNotMatch(entry.reason, /tessera-xgb-versions-|\/tmp\/|at .*\.ts:\d+/);
      const infer = await restInfer(
        server,
        `/v2/models/${run.legacy}/infer`,
        'input-0',
        [...expected.values()][0] as TreeExpectation,
        [],
      );
      assert.notEqual(infer.status, 200, `${run.legacy} must not answer`);
    }
    const served = index.filter((e) => expected.has(e.name));
    assert.equal(served.length, expected.size);
    assert.ok(
      served.every((e) => e.state === 'READY'),
      JSON.stringify(served.filter((e) => e.state !== 'READY')),
    );
    const [model, doc] = [...expected][0] ?? [];
    assert.ok(model && doc);
    const still = await restInfer(server, `/v2/models/${model}/infer`, 'input-0', doc, []);
    assert.equal(still.status, 200, JSON.stringify(still.body));
  });
});
