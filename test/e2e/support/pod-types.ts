// The JSON shapes of the core/v1 objects the process kubelet reads and writes.
import type {
  V1Container,
  V1ContainerStatus,
  V1Node,
  V1Pod,
  V1PodCondition,
  V1Probe,
  V1Volume,
} from '@kubernetes/client-node';
import type { Plain } from '../../../operator/src/manifests/types.js';

export type Pod = Plain<V1Pod>;
export type PodSpec = NonNullable<Pod['spec']>;
export type Container = Plain<V1Container>;
export type ContainerStatus = Plain<V1ContainerStatus>;
export type ContainerState = NonNullable<ContainerStatus['state']>;
export type PodCondition = Plain<V1PodCondition>;
export type Probe = Plain<V1Probe>;
export type Volume = Plain<V1Volume>;
export type Node = Plain<V1Node>;

/** A pod's status as this kubelet writes it. */
export interface WrittenPodStatus {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  hostIP: string;
  hostIPs: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime: string;
  conditions: PodCondition[];
  containerStatuses: ContainerStatus[];
  message?: string;
  reason?: string;
}

/** `namespace/name` of a pod. */
export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** A Kubernetes timestamp (RFC 3339, whole seconds, as metav1.Time serialises). */
export function kubeTime(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A Kubernetes MicroTime (RFC 3339 with microseconds), as Lease renewTime requires. */
export function microTime(date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000Z');
}
