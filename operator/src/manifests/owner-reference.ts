import type { V1OwnerReference } from '@kubernetes/client-node';
import { commonLabels, predictorName } from './labels.js';
import type { Plain } from './types.js';
import type { InferenceService } from '../api/v1alpha1/index.js';

/**
 * A controller owner reference to the InferenceService. The garbage collector deletes children
 * with their owner, and `blockOwnerDeletion` keeps foreground deletion ordered
 * (controller-runtime `SetControllerReference`).
 */
export function controllerOwnerReference(isvc: InferenceService): Plain<V1OwnerReference> {
  const uid = isvc.metadata.uid;
  if (uid === undefined || uid === '') {
    throw new Error(`InferenceService ${isvc.metadata.name} has no uid; owner references need one`);
  }
  return {
    apiVersion: isvc.apiVersion,
    kind: isvc.kind,
    name: isvc.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The metadata every predictor child (Deployment, Service, HPA) shares: the deterministic name,
 * the owner's namespace, the common labels and the controller owner reference.
 */
export function childMetadata(isvc: InferenceService): {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ownerReferences: Plain<V1OwnerReference>[];
} {
  const name = isvc.metadata.name;
  return {
    name: predictorName(name),
    namespace: isvc.metadata.namespace ?? 'default',
    labels: commonLabels(name),
    ownerReferences: [controllerOwnerReference(isvc)],
  };
}
