/**
 * Triton's model configuration (extension_model_configuration.md; model_config.proto) in both
 * directions: derived from a loaded model for `GET /v2/models/{m}/config` and the ModelConfig RPC,
 * and parsed from the `config` parameter of a repository load (extension_model_repository.md) into
 * overrides of the model's settings.
 *
 * The object uses the proto's field names (`max_batch_size`, `input`, `data_type`), which is both
 * Triton's JSON form and what the gRPC adapter's proto-loader expects, so neither adapter renames.
 */
import { z } from 'zod';
import { invalidInput, shorten } from '../errors.js';
import { DATATYPES, type Datatype } from './datatype.js';
import type { ModelSettings } from './model-settings.js';
import { formatIssues } from './model-settings.js';
import type { TensorMetadata } from './types.js';

/** One input or output of a Triton config; `dims` exclude the batch dimension when batching. */
export interface TritonTensorConfig {
  readonly name: string;
  readonly data_type: string;
  readonly dims: readonly number[];
}

/** The fields of Triton's `ModelConfig` this server fills. */
export interface TritonModelConfig {
  readonly name: string;
  readonly platform: string;
  readonly backend: string;
  readonly max_batch_size: number;
  readonly input: readonly TritonTensorConfig[];
  readonly output: readonly TritonTensorConfig[];
  readonly instance_group: readonly { name: string; kind: 'KIND_CPU'; count: number }[];
  /** Present when adaptive batching is configured (`max_batch_size` > 1 and `max_batch_time` > 0). */
  readonly dynamic_batching?: { readonly max_queue_delay_microseconds: number };
  /** Present when the model's answers may come from the response cache (core/response-cache.ts). */
  readonly response_cache?: { readonly enable: boolean };
}

/** How a runtime is named in Triton's terms (`platform`, `backend`). */
export interface TritonNames {
  readonly platform: string;
  readonly backend: string;
}

/** Triton's data_type for a V2 datatype: `TYPE_<datatype>`, except BYTES, which Triton calls STRING. */
export function tritonDataType(datatype: Datatype): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

const TRITON_TYPES: ReadonlyMap<string, Datatype> = new Map(
  DATATYPES.map((d) => [tritonDataType(d), d]),
);

/** The configuration a loaded model reports. */
export function deriveModelConfig(
  name: string,
  settings: ModelSettings,
  tensors: { inputs: readonly TensorMetadata[]; outputs: readonly TensorMetadata[] },
  names: TritonNames,
  parallelWorkers: number,
  serverCacheEnabled = false,
): TritonModelConfig {
  const maxBatchSize = settings.maxBatchSize;
  const tensor = (t: TensorMetadata): TritonTensorConfig => ({
    name: t.name,
    data_type: tritonDataType(t.datatype),
    // Triton's dims never include the batch dimension of a batching model (model_config.proto).
    dims: maxBatchSize > 0 ? t.shape.slice(1) : [...t.shape],
  });
  const batching = maxBatchSize > 1 && settings.maxBatchTimeSeconds > 0;
  return {
    name,
    platform: names.platform,
    backend: names.backend,
    max_batch_size: maxBatchSize,
    input: tensors.inputs.map(tensor),
    output: tensors.outputs.map(tensor),
    instance_group: [
      { name, kind: 'KIND_CPU', count: settings.parallelWorkers ?? Math.max(1, parallelWorkers) },
    ],
    ...(batching
      ? {
          dynamic_batching: {
            max_queue_delay_microseconds: Math.round(settings.maxBatchTimeSeconds * 1e6),
          },
        }
      : {}),
    // Triton reports the model's own switch; here it takes effect only with the server's cache.
    ...(settings.cacheEnabled && serverCacheEnabled ? { response_cache: { enable: true } } : {}),
  };
}

/**
 * Integers may arrive as JSON numbers or, from protobuf's JSON mapping of 64-bit fields (what
 * tritonclient's `get_model_config(as_json=True)` returns over gRPC), as decimal strings.
 */
const int = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );

const dataType = z.string().refine((v) => TRITON_TYPES.has(v), {
  message: `must be one of ${[...TRITON_TYPES.keys()].join(', ')}`,
});

const tensorSchema = z.strictObject({
  name: z.string().min(1),
  data_type: dataType,
  // protobuf's JSON mapping leaves an empty repeated field out (a scalar per batch item).
  dims: z.array(int(-1, Number.MAX_SAFE_INTEGER)).max(64).default([]),
});

/**
 * The `config` fields this server maps onto model settings; every other ModelConfig field is
 * refused by name rather than ignored, because Triton would act on it and this server would not.
 */
const configSchema = z.strictObject({
  name: z.string().optional(),
  platform: z.string().optional(),
  backend: z.string().optional(),
  max_batch_size: int(0, 2 ** 31 - 1).optional(),
  input: z.array(tensorSchema).max(1024).optional(),
  output: z.array(tensorSchema).max(1024).optional(),
  dynamic_batching: z
    .strictObject({ max_queue_delay_microseconds: int(0, 3_600_000_000).optional() })
    .optional(),
  instance_group: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        kind: z.enum(['KIND_AUTO', 'KIND_CPU']).optional(),
        count: int(1, 64).optional(),
      }),
    )
    .max(1, 'at most one instance group (one group of CPU worker threads per model)')
    .optional(),
  response_cache: z.strictObject({ enable: z.boolean().optional() }).optional(),
  default_model_filename: z
    .string()
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/, 'must be a plain file name (no folders)')
    .optional(),
});

/** A parsed `config` load parameter. */
export type ConfigOverride = z.infer<typeof configSchema>;

/** Parses the `config` load parameter (a JSON text); throws INVALID_INPUT naming the field. */
export function parseConfigOverride(model: string, text: string): ConfigOverride {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalidInput(
      `load of model '${shorten(model)}': parameters.config is not valid JSON (${(error as Error).message})`,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidInput(
      `load of model '${shorten(model)}': parameters.config must hold a JSON object (a Triton model configuration)`,
    );
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const unknown = parsed.error.issues.find((i) => i.code === 'unrecognized_keys');
    const detail =
      unknown === undefined
        ? formatIssues(parsed.error)
        : `${[...unknown.path, ...unknown.keys].join('.')}: not supported by this server (supported fields: ${Object.keys(configSchema.shape).join(', ')}; input/output take name, data_type, dims)`;
    throw invalidInput(`load of model '${shorten(model)}': parameters.config: ${detail}`);
  }
  const config = parsed.data;
  if (config.name !== undefined && config.name !== model) {
    throw invalidInput(
      `load of model '${shorten(model)}': parameters.config: name: '${shorten(config.name)}' does not match the model being loaded`,
    );
  }
  return config;
}

/**
 * Applies a parsed config to one version's settings. `implementation` is the runtime the config's
 * platform/backend selected (resolved by the caller), or undefined to keep the model's own.
 */
export function applyConfigOverride(
  settings: ModelSettings,
  config: ConfigOverride,
  implementation: string | undefined,
): ModelSettings {
  const maxBatchSize = config.max_batch_size ?? settings.maxBatchSize;
  const tensor = (t: z.infer<typeof tensorSchema>): TensorMetadata => ({
    name: t.name,
    datatype: TRITON_TYPES.get(t.data_type) as Datatype,
    shape: maxBatchSize > 0 ? [-1, ...t.dims] : [...t.dims],
  });
  const delay = config.dynamic_batching?.max_queue_delay_microseconds;
  const count = config.instance_group?.[0]?.count;
  return {
    ...settings,
    ...(implementation === undefined ? {} : { implementation }),
    maxBatchSize,
    ...(delay === undefined ? {} : { maxBatchTimeSeconds: delay / 1e6 }),
    ...(config.input === undefined ? {} : { inputs: config.input.map(tensor) }),
    ...(config.output === undefined ? {} : { outputs: config.output.map(tensor) }),
    ...(count === undefined ? {} : { parallelWorkers: count }),
    ...(config.response_cache?.enable === undefined
      ? {}
      : { cacheEnabled: config.response_cache.enable }),
  };
}
