import type { Service } from './types.js';
import { type BuildInput, SERVER_PORTS } from './input.js';
import { predictorName, selectorLabels } from './labels.js';
import { childMetadata } from './owner-reference.js';

/**
 * The predictor's ClusterIP Service: http on 80 (as KServe), grpc and metrics on their own ports.
 * It selects the InferenceService's own pods, or in Shared mode the pool shard it was placed on.
 */
export function buildService(
  input: BuildInput,
  selector: Readonly<Record<string, string>> = selectorLabels(input.isvc.metadata.name),
): Service {
  const { isvc } = input;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(isvc),
    spec: {
      type: 'ClusterIP',
      selector: { ...selector },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'grpc', port: SERVER_PORTS.grpc, targetPort: 'grpc', protocol: 'TCP' },
        { name: 'metrics', port: SERVER_PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/** The in-cluster URL written to `status.url`. */
export function serviceUrl(input: BuildInput): string {
  const ns = input.isvc.metadata.namespace ?? 'default';
  return `http://${predictorName(input.isvc.metadata.name)}.${ns}.svc.${input.config.clusterDomain}`;
}
