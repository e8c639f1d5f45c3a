import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUTOSCALER_CLASS_ANNOTATION,
  autoscalerClassOf,
  kedaNotConfigured,
  parseInferenceService,
} from '../../../operator/src/api/v1alpha1/index.js';

function manifest(annotations?: Record<string, unknown>): unknown {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace: 'models', ...(annotations ? { annotations } : {}) },
    spec: {
      predictor: {
        minReplicas: 1,
        maxReplicas: 3,
        model: { modelFormat: { name: 'onnx' }, storageUri: 's3://models/iris/' },
      },
    },
  };
}

describe("KServe's autoscalerClass annotation", () => {
  it('accepts hpa, keda, external and no annotation', () => {
    for (const annotations of [
      undefined,
      { other: 'x' },
      { [AUTOSCALER_CLASS_ANNOTATION]: 'hpa' },
      { [AUTOSCALER_CLASS_ANNOTATION]: 'keda' },
      { [AUTOSCALER_CLASS_ANNOTATION]: 'external' },
    ]) {
      const parsed = parseInferenceService(manifest(annotations));
      assert.deepEqual(parsed.unsupported, [], JSON.stringify(annotations));
      assert.equal(parsed.supported, true);
    }
  });

  it('reads the class, defaulting to hpa', () => {
    assert.equal(autoscalerClassOf(undefined), 'hpa');
    assert.equal(autoscalerClassOf({}), 'hpa');
    assert.equal(autoscalerClassOf({ [AUTOSCALER_CLASS_ANNOTATION]: 'external' }), 'external');
    assert.equal(autoscalerClassOf({ [AUTOSCALER_CLASS_ANNOTATION]: 'hpa' }), 'hpa');
    assert.equal(autoscalerClassOf({ [AUTOSCALER_CLASS_ANNOTATION]: 'keda' }), 'keda');
  });

  it('refuses keda on an operator installed without KEDA support, saying how to get it', () => {
    const keda = { [AUTOSCALER_CLASS_ANNOTATION]: 'keda' };
    assert.deepEqual(kedaNotConfigured(keda, true), []);
    assert.deepEqual(kedaNotConfigured({ [AUTOSCALER_CLASS_ANNOTATION]: 'hpa' }, false), []);
    assert.deepEqual(kedaNotConfigured(undefined, false), []);
    const [entry, ...rest] = kedaNotConfigured(keda, false);
    assert.deepEqual(rest, []);
    assert.equal(entry?.reason, 'AutoscalerClassNotSupported');
    assert.match(entry?.message ?? '', /"keda" needs an operator installed with KEDA support/);
    assert.match(entry?.message ?? '', /autoscaling\.keda\.prometheusAddress/);
    assert.match(entry?.message ?? '', /TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS/);
  });

  it('refuses an unknown or non-string value, naming the annotation', () => {
    for (const value of ['kpa.autoscaling.knative.dev', 42]) {
      const parsed = parseInferenceService(manifest({ [AUTOSCALER_CLASS_ANNOTATION]: value }));
      assert.equal(parsed.supported, false, String(value));
      assert.match(
        parsed.unsupported[0]?.message ?? '',
        /^metadata\.annotations\["serving\.kserve\.io\/autoscalerClass"\]: /,
      );
      assert.match(
        parsed.unsupported[0]?.message ?? '',
        /is not an autoscaler class Tessera supports \("hpa", "keda", "external"\)/,
      );
    }
  });
});
