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

/** The subset of a core/v1 Container a runtime may set. */
export const runtimeContainerSchema = z.object({
  name: z.string(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional(),
  resources: resourceRequirementsSchema.optional(),
});
/** A runtime container template. */
export type RuntimeContainer = z.infer<typeof runtimeContainerSchema>;

/** `spec` shared by ServingRuntime and ClusterServingRuntime. */
export const servingRuntimeSpecSchema = z.object({
  disabled: z.boolean().optional(),
  multiModel: z.boolean().optional(),
  protocolVersions: z.array(protocolVersionSchema).optional(),
  supportedModelFormats: z.array(supportedModelFormatSchema),
  capacity: z.object({ memory: quantitySchema.optional() }).optional(),
  containers: z.array(runtimeContainerSchema).min(1),
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
