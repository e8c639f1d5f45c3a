import type { HorizontalPodAutoscaler, MetricSpec } from './types.js';
import { autoscalerClassOf, type ScaleMetric } from '../api/v1alpha1/index.js';
import { type BuildInput, isAutoscaled } from './input.js';
import { predictorName } from './labels.js';
import { childMetadata } from './owner-reference.js';

/**
 * Names of the server's per-model metrics as a custom-metrics adapter exposes them
 * (custom.metrics.k8s.io). Assumption, documented in docs/operator.md: prometheus-adapter with its
 * default rules, which expose gauges under their own name and turn a counter `<x>_total` into a
 * rate named `<x>_per_second`. The series carry a `model` label, used as the metric selector.
 */
export const POD_METRICS = {
  inFlight: 'tessera_model_infer_in_flight',
  requestRate: 'tessera_model_infer_requests_per_second',
} as const;

/** Default targets: 80% utilisation (KServe's default), 8 requests in flight, 50 requests/s. */
const DEFAULT_TARGET: Record<ScaleMetric, number> = {
  cpu: 80,
  memory: 80,
  inFlight: 8,
  requestRate: 50,
};

/** The predictor's scale metric and its per-replica target (defaults filled in). */
export function scaleTargetOf(isvc: BuildInput['isvc']): { metric: ScaleMetric; target: number } {
  const { predictor } = isvc.spec;
  const metric = predictor.scaleMetric ?? 'cpu';
  return { metric, target: predictor.scaleTarget ?? DEFAULT_TARGET[metric] };
}

function metricSpec(metric: ScaleMetric, target: number, modelName: string): MetricSpec {
  switch (metric) {
    case 'cpu':
    case 'memory':
      return {
        type: 'Resource',
        resource: { name: metric, target: { type: 'Utilization', averageUtilization: target } },
      };
    case 'inFlight':
    case 'requestRate':
      return {
        type: 'Pods',
        pods: {
          metric: { name: POD_METRICS[metric], selector: { matchLabels: { model: modelName } } },
          target: { type: 'AverageValue', averageValue: String(target) },
        },
      };
  }
}

/**
 * The predictor's HorizontalPodAutoscaler (autoscaling/v2), or `undefined` when
 * minReplicas == maxReplicas (no autoscaling) or the autoscaler class is `external`; the
 * reconciler then deletes any old HPA.
 */
export function buildHpa(input: BuildInput): HorizontalPodAutoscaler | undefined {
  const { isvc } = input;
  if (!isAutoscaled(isvc)) return undefined;
  // `external`: the user's autoscaler owns the replica count (the Deployment leaves it unset).
  if (autoscalerClassOf(isvc.metadata.annotations) !== 'hpa') return undefined;
  const predictor = isvc.spec.predictor;
  const name = isvc.metadata.name;
  const { metric, target } = scaleTargetOf(isvc);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(isvc),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: predictorName(name) },
      minReplicas: predictor.minReplicas ?? 1,
      maxReplicas: predictor.maxReplicas ?? 1,
      metrics: [metricSpec(metric, target, predictor.model.name ?? name)],
    },
  };
}
