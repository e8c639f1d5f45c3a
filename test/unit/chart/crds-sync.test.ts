import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles, drift } from '../../../scripts/sync-chart-crds.mjs';

const ROOT = join(import.meta.dirname, '../../..');

describe("the chart's CRDs", () => {
  it('are byte-identical copies of crds/ (run scripts/sync-chart-crds.mjs after a change)', () => {
    assert.deepEqual(drift(), []);
    assert.equal(crdFiles(join(ROOT, 'crds')).length, 3);
  });

  it('are rendered from those copies, not from a second inline text', () => {
    const template = readFileSync(join(ROOT, 'charts/tessera/templates/crds.yaml'), 'utf8');
    assert.match(template, /\.Files\.Glob "files\/crds\/\*\.yaml"/);
    assert.doesNotMatch(template, /CustomResourceDefinition/);
  });
});
