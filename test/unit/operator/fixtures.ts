// In-memory fixtures shared by the operator's unit tests.
import type { InferenceService, ServingRuntime } from '../../../operator/src/api/v1alpha1/index.js';
import type { ManifestConfig } from '../../../operator/src/manifests/index.js';

/** The builders' configuration in tests. */
export const manifestConfig: ManifestConfig = {
  serverImage: 'tessera/server:0.1.0',
  clusterDomain: 'cluster.local',
};

/** An InferenceService with the given predictor overrides. */
export function isvc(
  predictor: Partial<InferenceService['spec']['predictor']> = {},
  name = 'iris',
): InferenceService {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'InferenceService',
    metadata: {
      name,
      namespace: 'models',
      uid: '6f1c1a52-2d0e-4d38-9a51-6a2f4b7a9e10',
      generation: 3,
    },
    spec: {
      deploymentMode: 'Dedicated',
      predictor: {
        model: { modelFormat: { name: 'onnx' }, storageUri: 's3://models/iris/' },
        ...predictor,
      },
    },
  };
}

/** A runtime of either scope. */
export function runtime(
  name: string,
  opts: Partial<ServingRuntime['spec']> & {
    cluster?: boolean;
    created?: string;
    format?: string;
    priority?: number;
    autoSelect?: boolean;
  } = {},
): ServingRuntime {
  const { cluster, created, format, priority, autoSelect, ...spec } = opts;
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: cluster === true ? 'ClusterServingRuntime' : 'ServingRuntime',
    metadata: {
      name,
      ...(cluster === true ? {} : { namespace: 'models' }),
      creationTimestamp: created ?? '2026-01-01T00:00:00Z',
    },
    spec: {
      supportedModelFormats: [
        {
          name: format ?? 'onnx',
          autoSelect: autoSelect ?? true,
          ...(priority === undefined ? {} : { priority }),
        },
      ],
      containers: [{ name: 'kserve-container', args: ['start', '/mnt/models'] }],
      ...spec,
    },
  };
}
