import { z } from 'zod';
import {
  API_VERSION,
  objectMetaSchema,
  protocolVersionSchema,
  quantitySchema,
  resourceRequirementsSchema,
} from './common.js';

/** Kind of the namespaced runtime. */
export const SERVING_RUNTIME_KIND = 'ServingRuntime';
/** Kind of the cluster-scoped runtime. */
export const CLUSTER_SERVING_RUNTIME_KIND = 'ClusterServingRuntime';

/** One entry of `supportedModelFormats`, as in KServe. */
export const supportedModelFormatSchema = z.object({
  name: z.string().min(1),
  version: z.string().optional(),
  autoSelect: z.boolean().optional(),
  priority: z.number().int().min(1).optional(),
});
/** A model format a runtime supports. */
export type SupportedModelFormat = z.infer<typeof supportedModelFormatSchema>;

/** A core/v1 EnvVar: a value, or valueFrom as Kubernetes defines it. */
const runtimeEnvVarSchema = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z.looseObject({}).optional(),
});

/**
 * A core/v1 Container, as a KServe runtime writes it. The fields the builders merge are typed;
 * every other Container field (probes, lifecycle, envFrom, ...) passes through as written (the
 * CRD names each one, so a misspelt field is refused by the apiserver, not carried).
 */
export const runtimeContainerSchema = z.looseObject({
  name: z.string(),
  image: z.string().optional(),
  imagePullPolicy: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z.array(runtimeEnvVarSchema).optional(),
  ports: z
    .array(
      z.looseObject({
        containerPort: z.number().int(),
        name: z.string().optional(),
        protocol: z.string().optional(),
        hostPort: z.number().int().optional(),
      }),
    )
    .optional(),
  resources: resourceRequirementsSchema.optional(),
  volumeMounts: z.array(z.looseObject({ name: z.string(), mountPath: z.string() })).optional(),
  livenessProbe: z.looseObject({}).optional(),
  readinessProbe: z.looseObject({}).optional(),
  startupProbe: z.looseObject({}).optional(),
  securityContext: z.looseObject({}).optional(),
});
/** A runtime container template. */
export type RuntimeContainer = z.infer<typeof runtimeContainerSchema>;

/** `spec` shared by ServingRuntime and ClusterServingRuntime (KServe's ServingRuntimeSpec). */
export const servingRuntimeSpecSchema = z.object({
  disabled: z.boolean().optional(),
  multiModel: z.boolean().optional(),
  protocolVersions: z.array(protocolVersionSchema).optional(),
  supportedModelFormats: z.array(supportedModelFormatSchema).default([]),
  capacity: z.object({ memory: quantitySchema.optional() }).optional(),
  containers: z.array(runtimeContainerSchema).min(1),
  // KServe's ServingRuntimePodSpec: carried into the pod, under the InferenceService's own.
  volumes: z.array(z.looseObject({ name: z.string() })).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(z.looseObject({})).optional(),
  affinity: z.looseObject({}).optional(),
  imagePullSecrets: z.array(z.object({ name: z.string() })).optional(),
  serviceAccountName: z.string().optional(),
  schedulerName: z.string().optional(),
  hostIPC: z.boolean().optional(),
  resourceClaims: z.array(z.looseObject({})).optional(),
  /** A multi-node runtime: never selected (Tessera serves a model from one pod). */
  workerSpec: z.looseObject({}).optional(),
  // ModelMesh fields: accepted so its runtimes port unchanged, not used (docs/runtimes.md).
  grpcEndpoint: z.string().optional(),
  grpcDataEndpoint: z.string().optional(),
  httpDataEndpoint: z.string().optional(),
  replicas: z.number().int().optional(),
  storageHelper: z.object({ disabled: z.boolean().optional() }).optional(),
  builtInAdapter: z.looseObject({}).optional(),
});
/** A runtime spec. */
export type ServingRuntimeSpec = z.infer<typeof servingRuntimeSpecSchema>;

/** A ServingRuntime or ClusterServingRuntime object. */
export const servingRuntimeSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.enum([SERVING_RUNTIME_KIND, CLUSTER_SERVING_RUNTIME_KIND]),
  metadata: objectMetaSchema,
  spec: servingRuntimeSpecSchema,
});
/** A parsed runtime of either scope. */
export type ServingRuntime = z.infer<typeof servingRuntimeSchema>;
