import { storageKeySchema } from '@tessera/contract';
import { z } from 'zod';
import { checkAutoscalerClass } from './autoscaler-class.js';
import { normalizeInferenceServiceSpec, type Unsupported } from './kserve-normalize.js';
import {
  API_VERSION,
  conditionSchema,
  objectMetaSchema,
  protocolVersionSchema,
  resourceRequirementsSchema,
} from './common.js';

/** Kind name of the InferenceService custom resource. */
export const INFERENCE_SERVICE_KIND = 'InferenceService';

/** Metrics an HPA can scale on: Resource metrics, or the server's per-model Pods metrics. */
export const scaleMetricSchema = z.enum(['cpu', 'memory', 'inFlight', 'requestRate']);
/** A scale metric name. */
export type ScaleMetric = z.infer<typeof scaleMetricSchema>;

/** A container env var (value, or valueFrom as Kubernetes defines it). */
export const envVarSchema = z.object({
  name: z.string().min(1),
  value: z.string().optional(),
  valueFrom: z.looseObject({}).optional(),
});
/** An env var of the model. */
export type ModelEnvVar = z.infer<typeof envVarSchema>;

/** `spec.predictor.model`, as in KServe's `ModelSpec`. */
export const modelSpecSchema = z.object({
  name: z.string().optional(),
  modelFormat: z.object({ name: z.string().min(1), version: z.string().optional() }),
  storageUri: z.string().optional(),
  /**
   * Storage credentials, read by the agent container only: `key` selects an entry of the
   * namespace's storage-config Secret (both modes, KServe ModelMesh's `storage.key`);
   * `secretName` mounts a Secret of the model's own (Dedicated mode only).
   */
  storage: z
    .object({
      secretName: z.string().min(1).optional(),
      key: storageKeySchema.optional(),
      path: z.string().min(1).optional(),
      parameters: z
        .object({ bucket: z.string().min(1).optional(), type: z.enum(['s3', 'gcs']).optional() })
        .optional(),
    })
    .refine((s) => s.secretName === undefined || s.key === undefined, {
      message: 'storage.secretName and storage.key are mutually exclusive',
    })
    .optional(),
  runtime: z.string().optional(),
  protocolVersion: protocolVersionSchema.optional(),
  resources: resourceRequirementsSchema.optional(),
  /** KServe container fields: checked by the normaliser (kserve-normalize.ts), carried into the server container. */
  ports: z.array(z.looseObject({ containerPort: z.number().int() })).optional(),
  env: z.array(envVarSchema).optional(),
  args: z.array(z.string()).optional(),
  /** KServe: the runtime image's tag. */
  runtimeVersion: z.string().min(1).optional(),
});
/** The model an InferenceService serves. */
export type ModelSpec = z.infer<typeof modelSpecSchema>;

/** Why scaleMetric alone is refused: an HPA needs a replica range to act on. */
export const SCALE_METRIC_NEEDS_RANGE =
  'scaleMetric needs maxReplicas greater than minReplicas (default 1): without a range no HorizontalPodAutoscaler can be created';

/** `spec.predictor`. The CRD enforces minReplicas <= maxReplicas with CEL; repeated here. */
export const predictorSpecSchema = z
  .object({
    model: modelSpecSchema,
    minReplicas: z.number().int().min(0).optional(),
    maxReplicas: z.number().int().min(1).optional(),
    replicas: z.number().int().min(0).optional(),
    scaleMetric: scaleMetricSchema.optional(),
    scaleTarget: z.number().int().min(1).optional(),
    // Pod-level fields of KServe's PodSpec, carried into the predictor's pod template.
    serviceAccountName: z.string().min(1).optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(z.looseObject({})).optional(),
    affinity: z.looseObject({}).optional(),
    imagePullSecrets: z.array(z.object({ name: z.string().min(1) })).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    deploymentStrategy: z.looseObject({ type: z.string().optional() }).optional(),
  })
  .refine(
    (p) =>
      p.minReplicas === undefined || p.maxReplicas === undefined || p.minReplicas <= p.maxReplicas,
    {
      message: 'minReplicas must be less than or equal to maxReplicas',
    },
  )
  .refine(
    (p) =>
      p.scaleMetric === undefined ||
      (p.maxReplicas !== undefined && p.maxReplicas > (p.minReplicas ?? 1)),
    {
      message: SCALE_METRIC_NEEDS_RANGE,
      path: ['scaleMetric'],
    },
  );
/** The predictor of an InferenceService. */
export type PredictorSpec = z.infer<typeof predictorSpecSchema>;

/** `spec` of an InferenceService. */
export const inferenceServiceSpecSchema = z.object({
  deploymentMode: z.enum(['Dedicated', 'Shared']).default('Dedicated'),
  predictor: predictorSpecSchema,
});
/** A validated InferenceService spec (defaults applied). */
export type InferenceServiceSpec = z.infer<typeof inferenceServiceSpecSchema>;

/** KServe/ModelMesh model states, reused so dashboards and users keep their vocabulary. */
export const modelStateSchema = z.enum([
  '',
  'Pending',
  'Standby',
  'Loading',
  'Loaded',
  'FailedToLoad',
]);
/** A model state. */
export type ModelState = z.infer<typeof modelStateSchema>;

/** One replica's view of the model, as its server reports it through the agent. */
export const replicaModelStatusSchema = z.object({
  pod: z.string(),
  state: modelStateSchema,
  storageUri: z.string().optional(),
  reason: z.string().optional(),
  /** Memory its server reports for the loaded model, rounded up to MiB. */
  memoryBytes: z.number().int().min(0).optional(),
});
/** One replica's model state. */
export type ReplicaModelStatus = z.infer<typeof replicaModelStatusSchema>;

/** `status.modelStatus`, after KServe's `ModelStatus`. */
export const modelStatusSchema = z.object({
  transitionStatus: z.enum(['UpToDate', 'InProgress', 'BlockedByFailedLoad', 'InvalidSpec']),
  loaded: z.string(),
  states: z.object({ activeModelState: modelStateSchema, targetModelState: modelStateSchema }),
  copies: z.object({ totalCopies: z.number().int(), failedCopies: z.number().int() }),
  lastFailureInfo: z
    .object({
      reason: z.string(),
      message: z.string(),
      time: z.string().optional(),
      location: z.string().optional(),
    })
    .optional(),
  replicas: z.array(replicaModelStatusSchema).optional(),
  /**
   * The largest memory a replica's server reported for the model at `storageUri`, rounded up to
   * MiB; kept while no replica reports (placement uses it with the declared memory).
   */
  reportedMemory: z.object({ bytes: z.number().int().min(0), storageUri: z.string() }).optional(),
});
/** The model status block. */
export type ModelStatus = z.infer<typeof modelStatusSchema>;

/** `status` of an InferenceService. */
export const inferenceServiceStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  url: z.string().optional(),
  replicas: z.number().int().optional(),
  selector: z.string().optional(),
  runtimeName: z.string().optional(),
  runtimeKind: z.enum(['ServingRuntime', 'ClusterServingRuntime']).optional(),
  deploymentMode: z.string().optional(),
  conditions: z.array(conditionSchema).optional(),
  modelStatus: modelStatusSchema.optional(),
});
/** InferenceService status. */
export type InferenceServiceStatus = z.infer<typeof inferenceServiceStatusSchema>;

/** A whole InferenceService object. */
export const inferenceServiceSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(INFERENCE_SERVICE_KIND),
  metadata: objectMetaSchema,
  spec: inferenceServiceSpecSchema,
  status: inferenceServiceStatusSchema.optional(),
});
/** A parsed InferenceService. */
export type InferenceService = z.infer<typeof inferenceServiceSchema>;

/**
 * Every reader of an InferenceService goes through here, so a KServe-shaped spec (legacy
 * `predictor.<framework>`, ...) means the same to the reconciler, the model driver and
 * placement. `supported` is false when the spec asks for something Tessera cannot do: the
 * InferenceService reconciler reports it, and nothing else acts on it.
 */
export function parseInferenceService(raw: unknown): {
  readonly result: ReturnType<typeof inferenceServiceSchema.safeParse>;
  readonly unsupported: readonly Unsupported[];
  readonly supported: boolean;
} {
  const obj = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const normalized = normalizeInferenceServiceSpec(obj['spec']);
  const result = inferenceServiceSchema.safeParse({ ...obj, spec: normalized.spec });
  const unsupported = [...normalized.unsupported, ...checkAutoscalerClass(obj['metadata'])];
  return {
    result,
    unsupported,
    supported: result.success && unsupported.length === 0,
  };
}
