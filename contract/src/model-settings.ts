/**
 * The JSON schema of `model-settings.json`, MLServer's per-model configuration
 * (mlserver-features.md §5). The server reads these files; the agent writes them next to the
 * artefacts it pulls. Unknown keys are ignored, as MLServer does (`extra="ignore"`), and
 * `parameters` keeps unknown keys (`extra="allow"`).
 */
import { z } from 'zod';
import { DATATYPES } from './datatypes.js';
import { isValidModelName } from './model-name.js';

export const tensorMetadataSchema = z.object({
  name: z.string().min(1),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.number().int().min(-1)),
  parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

export const modelNameSchema = z
  .string()
  .refine(
    isValidModelName,
    "must use letters, digits, '.', '_' or '-', starting with a letter or digit",
  );

/** The JSON schema of model-settings.json. */
export const modelSettingsFileSchema = z.object({
  name: modelNameSchema.optional(),
  implementation: z.string().min(1, 'must name a runtime, e.g. "onnx"'),
  platform: z.string().default(''),
  versions: z.array(z.string()).default([]),
  inputs: z.array(tensorMetadataSchema).default([]),
  outputs: z.array(tensorMetadataSchema).default([]),
  max_batch_size: z.number().int().min(0).default(0),
  max_batch_time: z.number().min(0).default(0),
  parallel_workers: z.number().int().min(0).max(64).optional(),
  /** MLServer's per-model cache switch; takes effect only while the server's cache is on. */
  cache_enabled: z.boolean().default(false),
  parameters: z
    .looseObject({
      uri: z.string().min(1).optional(),
      version: modelNameSchema.optional(),
      format: z.string().optional(),
      content_type: z.string().optional(),
      extra: z.record(z.string(), z.unknown()).default({}),
    })
    .default({ extra: {} }),
});

/** A model-settings.json document as written (before defaults). */
export type ModelSettingsFile = z.input<typeof modelSettingsFileSchema>;

/** Formats zod issues as `field: reason; field: reason`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
