import type { ScaledObject, ScaledObjectTrigger } from './types.js';
import { autoscalerClassOf } from '../api/v1alpha1/index.js';
import { scaleTargetOf } from './hpa.js';
import { type BuildInput, type KedaConfig, isAutoscaled, servedModelName } from './input.js';
import { predictorName } from './labels.js';
import { childMetadata } from './owner-reference.js';

/** A PromQL string literal (PromQL strings take Go's escapes, which JSON's are a subset of). */
function promString(value: string): string {
  return JSON.stringify(value);
}

/** A PromQL (RE2) pattern matching `text` literally. */
function literalPattern(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The label matchers that pick one InferenceService's series: its namespace and model, and pods
 * of its Deployment (`<deployment>-<replicaset hash>-<suffix>`), so two InferenceServices serving
 * the same model name in one namespace are not summed together. `namespace` and `pod` are the
 * labels the Prometheus Operator's PodMonitor (the chart's `metrics.serviceMonitor`) and the usual
 * `kubernetes-pods` scrape job attach.
 */
function seriesSelector(input: BuildInput): string {
  const { isvc } = input;
  const pods = `${literalPattern(predictorName(isvc.metadata.name))}-[a-z0-9]+-[a-z0-9]+`;
  return [
    `namespace=${promString(isvc.metadata.namespace ?? 'default')}`,
    `model=${promString(servedModelName(isvc))}`,
    `pod=~${promString(pods)}`,
  ].join(',');
}

/**
 * The query whose value KEDA compares with the target. HPA divides an `AverageValue` target by
 * the ready replicas, so the query is the sum over all pods: requests in flight, or requests per
 * second over the configured window (every outcome counts: a failing request is load too).
 */
export function kedaQuery(
  input: BuildInput,
  metric: 'inFlight' | 'requestRate',
  keda: KedaConfig,
): string {
  const selector = seriesSelector(input);
  return metric === 'inFlight'
    ? `sum(tessera_model_infer_in_flight{${selector}})`
    : `sum(rate(tessera_model_infer_requests_total{${selector}}[${keda.rateWindow}]))`;
}

function trigger(input: BuildInput, keda: KedaConfig): ScaledObjectTrigger {
  const { metric, target } = scaleTargetOf(input.isvc);
  if (metric === 'cpu' || metric === 'memory') {
    // KEDA's resource triggers are the HPA's Resource metrics (KEDA docs, "CPU" scaler).
    return { type: metric, metricType: 'Utilization', metadata: { value: String(target) } };
  }
  return {
    type: 'prometheus',
    metricType: 'AverageValue',
    name: metric === 'inFlight' ? 'in-flight' : 'request-rate',
    metadata: {
      serverAddress: keda.prometheusAddress,
      query: kedaQuery(input, metric, keda),
      threshold: String(target),
      // No series yet (a model that never served) means no load, not an error that freezes scaling.
      ignoreNullValues: 'true',
    },
  };
}

/**
 * The predictor's KEDA ScaledObject (keda.sh/v1alpha1): with the `keda` autoscaler class and a
 * replica range, on an operator installed with KEDA settings; otherwise `undefined` (the
 * reconciler then deletes any old one). KEDA makes and owns the HPA (`keda-hpa-<name>`).
 */
export function buildScaledObject(input: BuildInput): ScaledObject | undefined {
  const { isvc, config } = input;
  if (config.keda === undefined || !isAutoscaled(isvc)) return undefined;
  if (autoscalerClassOf(isvc.metadata.annotations) !== 'keda') return undefined;
  const { predictor } = isvc.spec;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: childMetadata(isvc),
    spec: {
      scaleTargetRef: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: predictorName(isvc.metadata.name),
      },
      // KEDA's default minimum is 0 (scale to zero), which Tessera does not do.
      minReplicaCount: predictor.minReplicas ?? 1,
      maxReplicaCount: predictor.maxReplicas ?? 1,
      triggers: [trigger(input, config.keda)],
    },
  };
}
