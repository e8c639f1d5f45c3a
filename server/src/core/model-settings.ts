/**
 * `model-settings.json`, MLServer's per-model configuration (mlserver-features.md §5), parsed with
 * zod into a typed, resolved form. Unknown keys are ignored, as MLServer does (`extra="ignore"`),
 * and `parameters` keeps unknown keys (`extra="allow"`).
 */
import { isAbsolute, resolve } from 'node:path';
import { formatIssues, modelSettingsFileSchema } from '@tessera/contract';
import type { TensorMetadata } from './types.js';

// The file schema is part of the contract with the agent, which writes these files.
export { formatIssues, modelSettingsFileSchema };

/** A model's settings, resolved against the folder that holds its model-settings.json. */
export interface ModelSettings {
  readonly name: string;
  readonly version?: string;
  readonly implementation: string;
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  readonly maxBatchSize: number;
  readonly maxBatchTimeSeconds: number;
  /** Worker threads for this model, overriding the server's `parallel_workers`. */
  readonly parallelWorkers?: number;
  /** Whether answers may come from the response cache (MLServer's `cache_enabled`). */
  readonly cacheEnabled: boolean;
  /** Absolute location of the artefact(s): `parameters.uri` resolved, or the model's folder. */
  readonly uri: string;
  /** The folder holding model-settings.json. */
  readonly folder: string;
  /** model-settings.json's path relative to the repository root, for messages. */
  readonly source: string;
  readonly contentType?: string;
  readonly extra: Readonly<Record<string, unknown>>;
  /** Every field of `parameters`, unknown ones included, for runtimes that want them. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** The fields a model's settings cannot do without; the rest have model-settings.json's defaults. */
export type RequiredSettings = Pick<
  ModelSettings,
  'name' | 'implementation' | 'uri' | 'folder' | 'source'
> &
  Partial<ModelSettings>;

/** Settings with model-settings.json's defaults for every field not given. */
export function withDefaults(settings: RequiredSettings): ModelSettings {
  return {
    platform: '',
    inputs: [],
    outputs: [],
    maxBatchSize: 0,
    maxBatchTimeSeconds: 0,
    cacheEnabled: false,
    extra: {},
    parameters: {},
    ...settings,
  };
}

/**
 * Parses one model-settings.json document. `defaultName` is the folder name, MLServer's default.
 * Returns either the settings or a message naming the file, the field and the reason.
 */
export function parseModelSettings(
  raw: unknown,
  where: { folder: string; source: string; defaultName: string },
): { ok: true; settings: ModelSettings } | { ok: false; message: string } {
  const parsed = modelSettingsFileSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, message: `${where.source}: ${formatIssues(parsed.error)}` };
  }
  const file = parsed.data;
  const params = file.parameters;
  const uri = params.uri === undefined ? where.folder : resolveUri(where.folder, params.uri);
  const settings: ModelSettings = {
    name: file.name ?? where.defaultName,
    implementation: file.implementation,
    platform: file.platform,
    inputs: file.inputs,
    outputs: file.outputs,
    maxBatchSize: file.max_batch_size,
    maxBatchTimeSeconds: file.max_batch_time,
    cacheEnabled: file.cache_enabled,
    uri,
    folder: where.folder,
    source: where.source,
    extra: params.extra,
    parameters: params,
    ...(file.parallel_workers === undefined ? {} : { parallelWorkers: file.parallel_workers }),
    ...(params.version === undefined ? {} : { version: params.version }),
    ...(params.content_type === undefined ? {} : { contentType: params.content_type }),
  };
  return { ok: true, settings };
}

function resolveUri(folder: string, uri: string): string {
  const path = uri.startsWith('file://') ? uri.slice('file://'.length) : uri;
  return isAbsolute(path) ? path : resolve(folder, path);
}
