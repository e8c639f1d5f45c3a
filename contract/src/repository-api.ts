/**
 * The model repository API (Triton's extension_model_repository, MLServer's handlers) as served
 * by the server on its admin port, and the agent's superset of it on the agent port.
 *
 * The agent answers the same three routes. Its load takes the artefact's location in
 * `parameters` (Triton's load request carries parameters too), pulls it, writes
 * model-settings.json and then calls the server's load; its index adds what it knows about pulls.
 */
import { z } from 'zod';
import { modelNameSchema } from './model-settings.js';

/** Lifecycle states the server reports (Triton's and MLServer's names). */
export const MODEL_STATES = ['UNKNOWN', 'READY', 'UNAVAILABLE', 'LOADING', 'UNLOADING'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

/** Routes, relative to the server's admin URL or the agent's URL. */
export const REPOSITORY_ROUTES = {
  index: '/v2/repository/index',
  load: (model: string) => `/v2/repository/models/${encodeURIComponent(model)}/load`,
  unload: (model: string) => `/v2/repository/models/${encodeURIComponent(model)}/unload`,
} as const;

/** One entry of the server's repository index. */
export const repositoryIndexEntrySchema = z.object({
  name: z.string(),
  version: z.string().optional(),
  state: z.enum(MODEL_STATES),
  reason: z.string().default(''),
  /**
   * The runtime's estimate of the memory this loaded version holds, in bytes, counting every
   * copy it keeps (one per worker thread): ONNX, the bytes of the model file each session read
   * (onnxruntime keeps the initialisers in memory); XGBoost and LightGBM, the exact bytes of the
   * flat typed arrays the trees compile into. Present only while the version is loaded, and only
   * for runtimes that report it (ModelMesh's runtimes report a size after each load likewise).
   */
  memory_bytes: z
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Estimated memory of the loaded version in bytes (docs/agent.md).' }),
});
export type RepositoryIndexEntry = z.infer<typeof repositoryIndexEntrySchema>;

/** What the agent is doing with a model's artefact. */
export const PULL_PHASES = ['Pulling', 'Pulled', 'Failed'] as const;
export type PullPhase = (typeof PULL_PHASES)[number];

/** One entry of the agent's index: the server's entry plus the artefact the agent placed. */
export const agentIndexEntrySchema = repositoryIndexEntrySchema.extend({
  /** The storage URI whose artefact is (being) served; absent for models the agent did not pull. */
  storage_uri: z.string().optional(),
  /** {@link storageUriFingerprint} of the whole storage URI (storage_uri omits user-info and query). */
  storage_uri_fingerprint: z.string().optional(),
  /** Pull progress of the most recent load request for this model. */
  pull: z
    .object({
      phase: z.enum(PULL_PHASES),
      storage_uri: z.string(),
      storage_uri_fingerprint: z.string().optional(),
      bytes: z.number().int().min(0).default(0),
      /** Set when phase is Failed: a message safe to show (no secrets, no local paths). */
      message: z.string().optional(),
      /** RFC 3339 time of the last transition. */
      time: z.string().optional(),
    })
    .optional(),
  /** Bytes the artefact takes on the model volume. */
  size_bytes: z.number().int().min(0).optional(),
});
export type AgentIndexEntry = z.infer<typeof agentIndexEntrySchema>;

/**
 * A key of the storage-config Secret: a Secret data key (`[-._a-zA-Z0-9]+`), never one that
 * starts with `..` (a mounted Secret's own bookkeeping entries, and a way out of the folder).
 */
export const storageKeySchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must be a Secret key: letters, digits, -, _ and . only')
  .refine((key) => !key.startsWith('..') && key !== '.', 'must not start with ..');

/** The agent's load parameters (all snake_case, as on the wire). */
export const agentLoadParametersSchema = z.object({
  /** Where the artefact lives: http(s)://, s3://, gs://, pvc://, file:// or a local path. */
  storage_uri: z.string().min(1),
  /** The model format from the InferenceService (onnx, sklearn, xgboost, …). */
  model_format: z.string().min(1).optional(),
  /** The runtime implementation to write into model-settings.json when the artefact has none. */
  implementation: z.string().min(1).optional(),
  /**
   * The storage-config entry holding the credentials for `storage_uri` (the InferenceService's
   * `storage.key`); read from the mounted Secret at each pull. Absent: the credentials folder.
   */
  storage_key: storageKeySchema.optional(),
  /** A version label for the model. */
  version: modelNameSchema.optional(),
  /** Expected SHA-256 of the downloaded object (hex), checked before it is used. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'must be 64 hexadecimal characters')
    .optional(),
  /** Expected size in bytes of the downloaded object. */
  size_bytes: z.number().int().min(0).optional(),
});
export type AgentLoadParameters = z.infer<typeof agentLoadParametersSchema>;

/** Body of the agent's load request. */
export const agentLoadRequestSchema = z.object({ parameters: agentLoadParametersSchema });
export type AgentLoadRequest = z.infer<typeof agentLoadRequestSchema>;

/** The REST error body of the V2 protocol. */
export const errorBodySchema = z.object({ error: z.string() });
