import { GROUP, VERSION } from '../api/v1alpha1/index.js';

/** Where a resource lives in the REST API. */
export interface ResourceType {
  readonly kind: string;
  readonly apiVersion: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Every resource type the operator reads or writes (and nothing else: least privilege). */
export const RESOURCES = {
  InferenceService: {
    kind: 'InferenceService',
    apiVersion: `${GROUP}/${VERSION}`,
    plural: 'inferenceservices',
    namespaced: true,
  },
  ServingRuntime: {
    kind: 'ServingRuntime',
    apiVersion: `${GROUP}/${VERSION}`,
    plural: 'servingruntimes',
    namespaced: true,
  },
  ClusterServingRuntime: {
    kind: 'ClusterServingRuntime',
    apiVersion: `${GROUP}/${VERSION}`,
    plural: 'clusterservingruntimes',
    namespaced: false,
  },
  Deployment: {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    plural: 'deployments',
    namespaced: true,
  },
  Service: { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true },
  // Read only: the model driver finds each server replica's address and agent readiness.
  Pod: { kind: 'Pod', apiVersion: 'v1', plural: 'pods', namespaced: true },
  HorizontalPodAutoscaler: {
    kind: 'HorizontalPodAutoscaler',
    apiVersion: 'autoscaling/v2',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  // Only with KEDA support configured (the `keda` autoscaler class): KEDA's CRD, keda.sh.
  ScaledObject: {
    kind: 'ScaledObject',
    apiVersion: 'keda.sh/v1alpha1',
    plural: 'scaledobjects',
    namespaced: true,
  },
  Lease: {
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    plural: 'leases',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** Optional parts of a resource path. */
export interface PathParts {
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
  readonly subresource?: 'status' | 'scale';
}

/**
 * REST path of a collection or object: `/api/v1/...` for the core group, `/apis/<g>/<v>/...`
 * otherwise. Omitting the namespace of a namespaced type lists across all namespaces.
 */
export function resourcePath(type: ResourceType, parts: PathParts = {}): string {
  const prefix = type.apiVersion.includes('/')
    ? `/apis/${type.apiVersion}`
    : `/api/${type.apiVersion}`;
  const ns =
    type.namespaced && parts.namespace !== undefined
      ? `/namespaces/${encodeURIComponent(parts.namespace)}`
      : '';
  const name = parts.name !== undefined ? `/${encodeURIComponent(parts.name)}` : '';
  const sub =
    parts.subresource !== undefined && parts.name !== undefined ? `/${parts.subresource}` : '';
  return `${prefix}${ns}/${type.plural}${name}${sub}`;
}
