import type {
  V1Deployment,
  V1ObjectMeta,
  V1Service,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';

/**
 * The JSON shape of a client-node model class: the same fields as plain data (no class
 * instances, timestamps as strings). The builders return plain objects, ready to send.
 */
export type Plain<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: Plain<T[K]> }
      : T;

/** An apps/v1 Deployment as JSON. */
export type Deployment = Plain<V1Deployment>;
/** A core/v1 Service as JSON. */
export type Service = Plain<V1Service>;
/** An autoscaling/v2 HorizontalPodAutoscaler as JSON. */
export type HorizontalPodAutoscaler = Plain<V2HorizontalPodAutoscaler>;
/** A container of a Deployment's pod template. */
export type Container = NonNullable<
  NonNullable<Deployment['spec']>['template']['spec']
>['containers'][number];
/** A pod spec. */
export type PodSpec = NonNullable<NonNullable<Deployment['spec']>['template']['spec']>;
/** A pod volume. */
export type Volume = NonNullable<PodSpec['volumes']>[number];
/** An environment variable. */
export type EnvVar = NonNullable<Container['env']>[number];
/** Container resources. */
export type Resources = NonNullable<Container['resources']>;
/** One metric of an HPA. */
export type MetricSpec = NonNullable<
  NonNullable<HorizontalPodAutoscaler['spec']>['metrics']
>[number];

/** One trigger of a KEDA ScaledObject (keda.sh/v1alpha1 `spec.triggers[]`). */
export interface ScaledObjectTrigger {
  type: string;
  name?: string;
  metricType?: 'AverageValue' | 'Value' | 'Utilization';
  metadata: Record<string, string>;
}

/**
 * A KEDA ScaledObject as JSON: the fields Tessera writes (KEDA's CRD, keda.sh/v1alpha1); KEDA
 * publishes no TypeScript model.
 */
// A type alias, not an interface, so it is assignable to KubeObject's index signature.
export type ScaledObject = {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: Plain<V1ObjectMeta>;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    triggers: ScaledObjectTrigger[];
  };
};
