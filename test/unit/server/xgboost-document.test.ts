// XGBoost model files as older releases write them: the legacy binary header (refused, naming the
// release), the bare NaN of 1.x/2.x JSON, and 1.7's document fields (string scalars, no
// iteration_indptr, no num_target, a scikit_learn attribute with `"missing": NaN`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  legacyRelease,
  parseXgboostJson,
  readXgboostDocument,
  xgboostEncoding,
} from '../../../server/src/runtime/xgboost/xgboost-document.js';
import { parseXgboostModel } from '../../../server/src/runtime/xgboost/xgboost-model.js';

/** The first 32 bytes of a legacy binary file: `binf`, then LearnerModelParamLegacy. */
function legacyHeader(major: number, minor: number, magic = 'binf'): Uint8Array {
  const bytes = new Uint8Array(48);
  const view = new DataView(bytes.buffer);
  bytes.set(Buffer.from(magic, 'latin1'), 0);
  view.setFloat32(4, 0.5, true); // base_score
  view.setUint32(8, 4, true); // num_feature
  view.setInt32(16, 1, true); // contain_extra_attrs
  view.setUint32(24, major, true);
  view.setUint32(28, minor, true);
  return bytes;
}

/** A one-split tree as 1.7 writes it (string tree_param, split_type, NaN condition on a categorical node). */
function stump(categorical: boolean): Record<string, unknown> {
  return {
    base_weights: [0, -0.5, 0.5],
    default_left: [1, 0, 0],
    id: 0,
    left_children: [1, -1, -1],
    right_children: [2, -1, -1],
    parents: [2147483647, 0, 0],
    split_conditions: [categorical ? Number.NaN : 0.25, -0.4, 0.3],
    split_indices: [0, 0, 0],
    split_type: [categorical ? 1 : 0, 0, 0],
    ...(categorical
      ? {
          categories: [1, 3],
          categories_nodes: [0],
          categories_segments: [0],
          categories_sizes: [2],
        }
      : { categories: [], categories_nodes: [], categories_segments: [], categories_sizes: [] }),
    loss_changes: [1, 0, 0],
    sum_hessian: [10, 5, 5],
    tree_param: { num_deleted: '0', num_feature: '2', num_nodes: '3', size_leaf_vector: '0' },
  };
}

/** A 1.7-style document: two iterations of a binary:logistic XGBClassifier. */
function document17(categorical = false): Record<string, unknown> {
  return {
    learner: {
      attributes: {
        best_iteration: '1',
        best_ntree_limit: '2',
        scikit_learn: '{"missing": NaN, "n_classes_": 2, "_estimator_type": "classifier"}',
      },
      feature_names: [],
      feature_types: [],
      gradient_booster: {
        model: {
          gbtree_model_param: { num_parallel_tree: '1', num_trees: '2', size_leaf_vector: '0' },
          tree_info: [0, 0],
          trees: [stump(categorical), { ...stump(categorical), id: 1 }],
        },
        name: 'gbtree',
      },
      learner_model_param: {
        base_score: '5E-1',
        boost_from_average: '1',
        num_class: '0',
        num_feature: '2',
      },
      objective: { name: 'binary:logistic', reg_loss_param: { scale_pos_weight: '1' } },
    },
    version: [1, 7, 6],
  };
}

void describe('legacy binary files', () => {
  void it('are told apart from JSON and UBJSON', () => {
    assert.equal(xgboostEncoding(legacyHeader(1, 7)), 'legacy');
    assert.equal(xgboostEncoding(Buffer.from(' {"learner": {}}')), 'json');
    assert.equal(xgboostEncoding(Buffer.from([0x7b, 0x4c, 0, 0, 0, 0, 0, 0, 0, 7])), 'ubj');
  });

  void it('name the release that wrote them, from the header', () => {
    assert.equal(legacyRelease(legacyHeader(1, 7)), '1.7');
    assert.equal(legacyRelease(legacyHeader(2, 1)), '2.1');
    // Before 1.0 there is no magic; a wrong version is not guessed at.
    assert.equal(legacyRelease(legacyHeader(1, 7, '\0\0\0?')), undefined);
    assert.equal(legacyRelease(legacyHeader(1234, 7)), undefined);
    assert.equal(legacyRelease(legacyHeader(1, 7).subarray(0, 20)), undefined);
  });

  void it('are refused with the release and how to re-save the model', () => {
    assert.throws(
      () => readXgboostDocument(legacyHeader(1, 7), 'model.bst'),
      (err: Error) => {
        assert.equal(err.name, 'ModelFormatError');
        assert.match(
          err.message,
          /^model\.bst is in XGBoost's legacy binary format \(written by xgboost 1\.7\)/,
        );
        assert.ok(err.message.includes('booster.save_model("model.json")'), err.message);
        return true;
      },
    );
    assert.throws(
      () => readXgboostDocument(legacyHeader(0, 0, '\0\0\0?'), 'model.bst'),
      (err: Error) =>
        err.message.startsWith("model.bst is in XGBoost's legacy binary format, which") &&
        err.message.includes('booster.save_model("model.json")'),
    );
  });
});

void describe('JSON from releases 1.x and 2.x', () => {
  void it('reads bare NaN and Infinity numbers', () => {
    const doc = readXgboostDocument(
      Buffer.from('{"split_conditions":[6.26E-2,NaN,-Infinity,Infinity]}'),
      'model.json',
    ) as { split_conditions: number[] };
    assert.deepEqual(doc.split_conditions, [0.0626, Number.NaN, -Infinity, Infinity]);
    assert.deepEqual(parseXgboostJson('{"missing": NaN}'), { missing: Number.NaN });
  });

  void it('still refuses a truncated file', () => {
    assert.throws(
      () => readXgboostDocument(Buffer.from('{"learner":{"split_conditions":[NaN,'), 'model.json'),
      /model\.json is not valid JSON \(is it truncated\?\)/,
    );
  });

  void it('parses a 1.7 document: string scalars, no iteration_indptr, a NaN in scikit_learn', () => {
    const model = parseXgboostModel(document17());
    assert.equal(model.objective, 'binary:logistic');
    assert.equal(model.classifier, true, 'the scikit_learn attribute with NaN says classifier');
    assert.ok(Number.isNaN(model.missing));
    assert.equal(model.groups, 1);
    assert.ok(model.baseMargins[0] === 0, 'base_score "5E-1" is margin 0 for binary:logistic');
    assert.deepEqual(model.iterationStart, [0, 1, 2]);
    assert.equal(model.bestIteration, 1);
    assert.equal(model.features, 2);
  });

  void it('parses a 1.7 categorical split whose condition is NaN', () => {
    const text = JSON.stringify(document17(true)).replaceAll('null', 'NaN');
    assert.ok(text.includes('NaN'), 'the document carries a bare NaN, as 1.7 writes it');
    const model = parseXgboostModel(readXgboostDocument(Buffer.from(text), 'model.json'));
    assert.equal(model.forest.root.length, 2);
    // Categories 1 and 3 of the split, as a bitset.
    assert.equal(model.forest.catBits[0], (1 << 1) | (1 << 3));
  });
});
