import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildAll,
  buildDeployment,
  buildHpa,
  buildScaledObject,
  kedaQuery,
  type ManifestConfig,
} from '../../../operator/src/manifests/index.js';
import {
  AUTOSCALER_CLASS_ANNOTATION,
  type InferenceService,
} from '../../../operator/src/api/v1alpha1/index.js';
import { loadConfig } from '../../../operator/src/config.js';
import { assertGolden } from '../../support/golden.js';
import { isvc, manifestConfig, runtime } from './fixtures.js';

const rt = runtime('tessera-onnx');
const withKeda: ManifestConfig = {
  ...manifestConfig,
  keda: { prometheusAddress: 'http://prometheus.monitoring:9090', rateWindow: '2m' },
};

function keda(predictor: Partial<InferenceService['spec']['predictor']>, name = 'iris') {
  const base = isvc(predictor, name);
  return {
    ...base,
    metadata: { ...base.metadata, annotations: { [AUTOSCALER_CLASS_ANNOTATION]: 'keda' } },
  };
}

describe('KEDA ScaledObject', () => {
  it('builds a Prometheus trigger on the request rate, and no HPA of its own', () => {
    const input = {
      isvc: keda({ minReplicas: 2, maxReplicas: 6, scaleMetric: 'requestRate', scaleTarget: 20 }),
      runtime: rt,
      config: withKeda,
    };
    assertGolden('operator/scaled-object-request-rate', buildScaledObject(input));
    const all = buildAll(input);
    assert.equal(all.hpa, undefined);
    assert.equal(all.scaledObject?.spec.minReplicaCount, 2);
    // KEDA's HPA owns the replica count: the Deployment must not reset it.
    assert.equal(all.deployment.spec?.replicas, undefined);
  });

  it('sums in-flight requests of this InferenceService only, target per replica', () => {
    const input = {
      isvc: keda({ maxReplicas: 4, scaleMetric: 'inFlight', scaleTarget: 3 }, 'fraud.v2'),
      runtime: rt,
      config: withKeda,
    };
    const [trigger] = buildScaledObject(input)?.spec.triggers ?? [];
    assert.equal(trigger?.type, 'prometheus');
    assert.equal(trigger.metricType, 'AverageValue');
    assert.equal(trigger.metadata['threshold'], '3');
    assert.equal(
      trigger.metadata['query'],
      'sum(tessera_model_infer_in_flight{namespace="models",model="fraud.v2",pod=~"fraud\\\\.v2-predictor-[a-z0-9]+-[a-z0-9]+"})',
    );
    // The request-rate window comes from the operator's settings.
    assert.match(
      kedaQuery(input, 'requestRate', { prometheusAddress: 'http://p:9090', rateWindow: '30s' }),
      /^sum\(rate\(tessera_model_infer_requests_total\{.*\}\[30s\]\)\)$/,
    );
  });

  it('maps cpu and memory to KEDA resource triggers, defaulting to 80%', () => {
    for (const metric of ['cpu', 'memory'] as const) {
      const so = buildScaledObject({
        isvc: keda({ maxReplicas: 3, ...(metric === 'memory' ? { scaleMetric: metric } : {}) }),
        runtime: rt,
        config: withKeda,
      });
      assert.deepEqual(so?.spec.triggers, [
        { type: metric, metricType: 'Utilization', metadata: { value: '80' } },
      ]);
    }
  });

  it('makes none without the keda class, a replica range or KEDA settings', () => {
    const ranged = { maxReplicas: 3 } as const;
    assert.equal(
      buildScaledObject({ isvc: isvc(ranged), runtime: rt, config: withKeda }),
      undefined,
    );
    assert.notEqual(buildHpa({ isvc: isvc(ranged), runtime: rt, config: withKeda }), undefined);
    assert.equal(buildScaledObject({ isvc: keda({}), runtime: rt, config: withKeda }), undefined);
    assert.equal(
      buildDeployment({ isvc: keda({ replicas: 2 }), runtime: rt, config: withKeda }).spec
        ?.replicas,
      2,
    );
    assert.equal(
      buildScaledObject({ isvc: keda(ranged), runtime: rt, config: manifestConfig }),
      undefined,
    );
  });

  it('is configured by the operator settings, off by default, with precise errors', () => {
    assert.equal(loadConfig({ KUBECONFIG: 'k' }).manifests.keda, undefined);
    assert.deepEqual(
      loadConfig({
        KUBECONFIG: 'k',
        TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: 'http://prometheus.monitoring:9090',
      }).manifests.keda,
      { prometheusAddress: 'http://prometheus.monitoring:9090', rateWindow: '2m' },
    );
    assert.throws(
      () =>
        loadConfig({
          KUBECONFIG: 'k',
          TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: 'prometheus:9090',
          TESSERA_OPERATOR_KEDA_RATE_WINDOW: '2 minutes',
        }),
      (err: Error) =>
        /TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: must be the Prometheus server's http\(s\) URL/.test(
          err.message,
        ) && /TESSERA_OPERATOR_KEDA_RATE_WINDOW: must be a PromQL duration/.test(err.message),
    );
  });
});
