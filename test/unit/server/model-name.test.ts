import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertModelName, isValidModelName } from '../../../server/src/core/model-name.js';

describe('model names', () => {
  it('accepts MLServer-style names and versions', () => {
    for (const name of ['iris', 'mushroom-xgboost', 'mnist_svm', 'v0.1.0', '1', 'A.b-c_d']) {
      assert.equal(isValidModelName(name), true, name);
    }
  });

  it('rejects traversal, separators, whitespace and empty names', () => {
    for (const name of [
      '',
      '..',
      '../etc',
      'a/b',
      'a\\b',
      ' iris',
      'iris ',
      '.hidden',
      'a..b',
      'x'.repeat(300),
      'na\u0000me',
    ]) {
      assert.equal(isValidModelName(name), false, JSON.stringify(name));
    }
    assert.throws(() => {
      assertModelName('../etc');
    }, /invalid model name "..\/etc"/);
  });
});
