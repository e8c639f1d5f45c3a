import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  inferenceServiceSchema,
  servingRuntimeSchema,
} from '../../../operator/src/api/v1alpha1/index.js';

const CRDS = join(import.meta.dirname, '../../../crds');
const SAMPLES = join(CRDS, 'samples');

interface CrdDoc {
  spec: {
    names: { kind: string; shortNames?: string[] };
    versions: {
      name: string;
      subresources?: Record<string, unknown>;
      additionalPrinterColumns?: { name: string }[];
    }[];
  };
}

describe('crds/samples', () => {
  for (const file of readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml'))) {
    it(`${file} round-trips through the zod schemas`, () => {
      const doc = parse(readFileSync(join(SAMPLES, file), 'utf8')) as {
        kind: string;
        metadata: { name: string };
      };
      const schema =
        doc.kind === 'InferenceService' ? inferenceServiceSchema : servingRuntimeSchema;
      const parsed = schema.parse(doc);
      // Parsing only adds defaults; parsing the output again changes nothing.
      assert.deepEqual(schema.parse(JSON.parse(JSON.stringify(parsed))), parsed);
      assert.equal(parsed.metadata.name, doc.metadata.name);
    });
  }

  it('rejects what the CRD rejects: min > max', () => {
    const doc = parse(
      readFileSync(join(SAMPLES, 'inferenceservice-onnx-autoscaled.yaml'), 'utf8'),
    ) as { spec: { predictor: { minReplicas: number } } };
    doc.spec.predictor.minReplicas = 100;
    assert.throws(
      () => inferenceServiceSchema.parse(doc),
      /minReplicas must be less than or equal to maxReplicas/,
    );
  });
});

describe('crds', () => {
  const crds = readdirSync(CRDS)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(CRDS, f), 'utf8')) as CrdDoc);

  it('define all three kinds with short names', () => {
    assert.deepEqual(crds.map((c) => c.spec.names.kind).sort(), [
      'ClusterServingRuntime',
      'InferenceService',
      'ServingRuntime',
    ]);
    for (const crd of crds)
      assert.ok((crd.spec.names.shortNames ?? []).length > 0, crd.spec.names.kind);
  });

  it('give InferenceService status and scale subresources and the printer columns', () => {
    const isvc = crds.find((c) => c.spec.names.kind === 'InferenceService');
    const v = isvc?.spec.versions[0];
    assert.ok(v?.subresources?.['status']);
    assert.ok(v.subresources['scale']);
    assert.deepEqual(
      v.additionalPrinterColumns?.map((c) => c.name),
      ['URL', 'Ready', 'Loaded', 'Runtime', 'Age'],
    );
  });
});
