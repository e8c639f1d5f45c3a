import { z } from 'zod';

/** API group of every Tessera custom resource. */
export const GROUP = 'serving.tessera.io';
/** API version served and stored by the CRDs in crds/. */
export const VERSION = 'v1alpha1';
/** `apiVersion` string of Tessera custom resources. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A Kubernetes resource quantity as the apiserver accepts it (`500m`, `2Gi`, `1`). */
export const quantitySchema = z.union([z.string(), z.number()]);

/** `resources` of a container: requests and limits keyed by resource name. */
export const resourceRequirementsSchema = z.object({
  limits: z.record(z.string(), quantitySchema).optional(),
  requests: z.record(z.string(), quantitySchema).optional(),
});
/** Container resource requirements. */
export type ResourceRequirements = z.infer<typeof resourceRequirementsSchema>;

/** Protocol versions KServe defines (`pkg/constants`); Tessera serves v2 and grpc-v2. */
export const protocolVersionSchema = z.enum(['v1', 'v2', 'grpc-v1', 'grpc-v2']);
/** A protocol version name. */
export type ProtocolVersion = z.infer<typeof protocolVersionSchema>;

/** The part of `metadata` the operator reads. Extra fields pass through untouched. */
export const objectMetaSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
/** Object metadata as the operator sees it. */
export type ObjectMeta = z.infer<typeof objectMetaSchema>;

/** A `metav1.Condition` (API conventions: type, status, observedGeneration, reason, message). */
export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string(),
  reason: z.string(),
  message: z.string(),
});
/** A status condition. */
export type Condition = z.infer<typeof conditionSchema>;
