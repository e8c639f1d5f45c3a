import type { Deployment, HorizontalPodAutoscaler, ScaledObject, Service } from './types.js';
import { buildDeployment } from './deployment.js';
import { buildHpa } from './hpa.js';
import type { BuildInput } from './input.js';
import { buildScaledObject } from './scaled-object.js';
import { buildService } from './service.js';

export { buildDeployment } from './deployment.js';
export { buildHpa, POD_METRICS } from './hpa.js';
export { buildScaledObject, kedaQuery } from './scaled-object.js';
export { buildService, serviceUrl } from './service.js';
export * from './pool.js';
export { quantityToBytes, formatBytes } from './quantity.js';
export * from './input.js';
export * from './labels.js';
export { controllerOwnerReference } from './owner-reference.js';
export type * from './types.js';

/**
 * Every child object an InferenceService wants. `hpa` is absent when autoscaling is off or
 * another class owns it; `scaledObject` only with the `keda` class.
 */
export interface DesiredChildren {
  readonly deployment: Deployment;
  readonly service: Service;
  readonly hpa: HorizontalPodAutoscaler | undefined;
  readonly scaledObject: ScaledObject | undefined;
}

/** Builds all children. Pure: no I/O, no clock, no randomness. */
export function buildAll(input: BuildInput): DesiredChildren {
  return {
    deployment: buildDeployment(input),
    service: buildService(input),
    hpa: buildHpa(input),
    scaledObject: buildScaledObject(input),
  };
}
