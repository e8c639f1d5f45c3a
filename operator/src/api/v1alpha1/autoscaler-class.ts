import type { Unsupported } from './kserve-normalize.js';

/**
 * KServe's annotation that picks who scales a raw-deployment predictor
 * (`serving.kserve.io/autoscalerClass`, KServe `pkg/constants`).
 */
export const AUTOSCALER_CLASS_ANNOTATION = 'serving.kserve.io/autoscalerClass';

/**
 * The classes Tessera honours. `hpa` (the default): the operator writes an autoscaling/v2
 * HorizontalPodAutoscaler. `external`: the operator writes none and leaves `replicas` unset, so
 * an autoscaler the user runs (a KEDA ScaledObject, a custom controller) owns the replica count
 * without the operator resetting it on every reconcile.
 */
export const AUTOSCALER_CLASSES = ['hpa', 'external'] as const;
export type AutoscalerClass = (typeof AUTOSCALER_CLASSES)[number];

function isKnownClass(value: string): value is AutoscalerClass {
  return (AUTOSCALER_CLASSES as readonly string[]).includes(value);
}

/** The InferenceService's autoscaler class; `hpa` when the annotation is absent or unknown. */
export function autoscalerClassOf(
  annotations: Readonly<Record<string, string>> | undefined,
): AutoscalerClass {
  const value = annotations?.[AUTOSCALER_CLASS_ANNOTATION];
  return value !== undefined && isKnownClass(value) ? value : 'hpa';
}

/**
 * An annotation value Tessera cannot honour, as an {@link Unsupported} entry (reported as a
 * condition and a Warning Event, never ignored: a KServe user asking for `keda` would otherwise
 * get an HPA they did not ask for).
 */
export function checkAutoscalerClass(raw: unknown): Unsupported[] {
  const annotations =
    typeof raw === 'object' && raw !== null
      ? (raw as { annotations?: unknown }).annotations
      : undefined;
  if (typeof annotations !== 'object' || annotations === null) return [];
  const value = (annotations as Record<string, unknown>)[AUTOSCALER_CLASS_ANNOTATION];
  if (value === undefined || (typeof value === 'string' && isKnownClass(value))) return [];
  const hint =
    value === 'keda'
      ? '; Tessera does not generate KEDA ScaledObjects yet: set it to "external" and create the ScaledObject yourself'
      : '';
  return [
    {
      field: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]`,
      reason: 'AutoscalerClassNotSupported',
      message: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]: ${JSON.stringify(value)} is not an autoscaler class Tessera supports (${AUTOSCALER_CLASSES.map((c) => `"${c}"`).join(', ')})${hint}`,
    },
  ];
}
