// ServingRuntime bodies the e2e tests and the lifecycle benchmarks create: a multi-model pool of
// Tessera's server image (the process kubelet runs that image as local processes).
import type { KubeObject } from '../../../operator/src/kube/client.js';

/** A `multiModel: true` ServingRuntime for ONNX with `capacity.memory` per server. */
export function poolRuntime(
  name: string,
  capacityMemory: string,
  options: { autoSelect?: boolean } = {},
): KubeObject {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: { name },
    spec: {
      multiModel: true,
      capacity: { memory: capacityMemory },
      protocolVersions: ['v2', 'grpc-v2'],
      supportedModelFormats: [{ name: 'onnx', autoSelect: options.autoSelect ?? true }],
      containers: [
        { name: 'kserve-container', image: 'tessera/server:0.1.0', args: ['start', '/mnt/models'] },
      ],
    },
  };
}
