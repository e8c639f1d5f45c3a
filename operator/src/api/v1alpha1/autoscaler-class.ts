import type { Unsupported } from './kserve-normalize.js';

/**
 * KServe's annotation that picks who scales a raw-deployment predictor
 * (`serving.kserve.io/autoscalerClass`, KServe `pkg/constants`).
 */
export const AUTOSCALER_CLASS_ANNOTATION = 'serving.kserve.io/autoscalerClass';

/**
 * The classes Tessera honours. `hpa` (the default): the operator writes an autoscaling/v2
 * HorizontalPodAutoscaler. `keda`: the operator writes a KEDA ScaledObject whose Prometheus
 * trigger reads the model's own metrics (as KServe does for raw deployments); it needs an operator
 * installed with KEDA settings (`TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS`). `external`: the
 * operator writes neither and leaves `replicas` unset, so an autoscaler the user runs owns the
 * replica count without the operator resetting it on every reconcile.
 */
export const AUTOSCALER_CLASSES = ['hpa', 'keda', 'external'] as const;
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
  return [
    {
      field: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]`,
      reason: 'AutoscalerClassNotSupported',
      message: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]: ${JSON.stringify(value)} is not an autoscaler class Tessera supports (${AUTOSCALER_CLASSES.map((c) => `"${c}"`).join(', ')})`,
    },
  ];
}

/**
 * Why a `keda` InferenceService cannot be served by this operator: it was installed without KEDA
 * settings, so it has no Prometheus to point the trigger at (and may hold no RBAC on
 * ScaledObjects). Reported like any unsupported field rather than silently making an HPA.
 */
export function kedaNotConfigured(
  annotations: Readonly<Record<string, string>> | undefined,
  kedaConfigured: boolean,
): Unsupported[] {
  if (kedaConfigured || autoscalerClassOf(annotations) !== 'keda') return [];
  return [
    {
      field: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]`,
      reason: 'AutoscalerClassNotSupported',
      message: `metadata.annotations["${AUTOSCALER_CLASS_ANNOTATION}"]: "keda" needs an operator installed with KEDA support (Helm value autoscaling.keda.prometheusAddress, or TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS: the Prometheus that scrapes the server pods); this one has none, so use "hpa" or "external", or reinstall with it`,
    },
  ];
}
