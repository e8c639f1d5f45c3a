/** Label that ties every child object to its InferenceService (used by selectors and watches). */
export const INFERENCE_SERVICE_LABEL = 'serving.tessera.io/inferenceservice';
/** Recommended label naming the component (Kubernetes "Recommended Labels"). */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** Recommended label naming the tool that manages the object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** Value of {@link MANAGED_BY_LABEL} on every object the operator creates; informers filter on it. */
export const MANAGED_BY_VALUE = 'tessera-operator';

/**
 * Labels of the predictor's pod selector. Invariant: never changes for an object's lifetime,
 * because a Deployment's `spec.selector` is immutable.
 */
export function selectorLabels(name: string): Record<string, string> {
  return { [INFERENCE_SERVICE_LABEL]: name, [COMPONENT_LABEL]: 'predictor' };
}

/** Labels on every child object and pod: the selector plus the recommended labels. */
export function commonLabels(name: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/name': 'tessera-server',
    'app.kubernetes.io/instance': name,
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
}

/** Deterministic name of the predictor's Deployment, Service and HPA (controller-runtime FAQ). */
export function predictorName(name: string): string {
  return `${name}-predictor`;
}
