/**
 * The one file the server reads for an agent-managed model: `<model_dir>/<name>/model-settings.json`,
 * pointing (relative `parameters.uri`) into the artefact under the agent's hidden folder. It is
 * replaced atomically (write a temporary file, rename over), which is how an update switches the
 * server to a new artefact in one step; the server then reloads with zero downtime.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir, rename, rm, writeFile, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { modelSettingsFileSchema, formatIssues, type AgentLoadParameters } from '@tessera/contract';
import { AgentError, AgentErrorCode } from './errors.js';

const SETTINGS = 'model-settings.json';

/** Marker keys the agent adds under `parameters` (kept by the server's loose schema). */
export interface AgentMarkers {
  readonly storage_uri: string;
  readonly tessera_agent_artefact: string;
}

/** Runtimes by InferenceService model format: sklearn models are served as ONNX files. */
const FORMAT_RUNTIMES: Readonly<Record<string, string>> = { onnx: 'onnx', sklearn: 'onnx' };

/** The settings file of a model. */
export function settingsPath(modelDir: string, name: string): string {
  return join(modelDir, name, SETTINGS);
}

/** A lone top-level folder in an archive (`iris/…`) is the artefact's real root. */
async function contentRoot(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  const only = entries[0];
  if (entries.length === 1 && only?.isDirectory() === true)
    return contentRoot(join(dir, only.name));
  return dir;
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  throw new AgentError(
    AgentErrorCode.INVALID_REQUEST,
    "the artefact's model-settings.json is not a JSON object",
  );
}

/** Builds the model-settings.json document for `name` from the artefact in `artefactDir`. */
export async function buildSettings(
  modelDir: string,
  name: string,
  artefactDir: string,
  params: AgentLoadParameters,
  markers: AgentMarkers,
): Promise<Record<string, unknown>> {
  const root = await contentRoot(artefactDir);
  const own = await readJson(join(root, SETTINGS));
  const folder = join(modelDir, name);
  const rel = (path: string): string => relative(folder, path) || '.';
  const base: Record<string, unknown> = own ?? {
    implementation: implementationFor(params),
  };
  const ownParams = (base['parameters'] ?? {}) as Record<string, unknown>;
  const ownUri = typeof ownParams['uri'] === 'string' ? ownParams['uri'] : undefined;
  let uri: string;
  if (ownUri !== undefined) {
    if (isAbsolute(ownUri) || ownUri.startsWith('file:')) {
      throw new AgentError(
        AgentErrorCode.INVALID_REQUEST,
        "the artefact's model-settings.json must use a relative parameters.uri",
      );
    }
    const target = resolve(root, ownUri);
    if (relative(root, target).startsWith('..')) {
      throw new AgentError(
        AgentErrorCode.INVALID_REQUEST,
        "the artefact's parameters.uri must stay inside the artefact",
      );
    }
    uri = rel(target);
  } else {
    uri = rel(await defaultModelFile(root));
  }
  const doc: Record<string, unknown> = {
    ...base,
    // MLServer lets model-settings.json name the model; the agent's caller decides it here.
    name,
    parameters: {
      ...ownParams,
      uri,
      ...(params.version === undefined ? {} : { version: params.version }),
      ...markers,
    },
  };
  const parsed = modelSettingsFileSchema.safeParse(doc);
  if (!parsed.success) {
    throw new AgentError(
      AgentErrorCode.INVALID_REQUEST,
      `model-settings.json for '${name}' is invalid: ${formatIssues(parsed.error)}`,
    );
  }
  return doc;
}

function implementationFor(params: AgentLoadParameters): string {
  if (params.implementation !== undefined) return params.implementation;
  const format = params.model_format?.toLowerCase();
  if (format === undefined) return 'onnx';
  return FORMAT_RUNTIMES[format] ?? format;
}

/** The single `.onnx` file of an artefact, else the artefact folder itself. */
async function defaultModelFile(root: string): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const onnx = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.onnx'));
  const only = onnx[0];
  return onnx.length === 1 && only !== undefined ? join(only.parentPath, only.name) : root;
}

/** Replaces a model's settings atomically; returns the previous text (undefined if none). */
export async function switchSettings(
  modelDir: string,
  name: string,
  doc: Record<string, unknown> | string,
): Promise<string | undefined> {
  const path = settingsPath(modelDir, name);
  const previous = await readFile(path, 'utf8').catch(() => undefined);
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${SETTINGS}.${randomUUID()}.tmp`);
  await writeFile(tmp, typeof doc === 'string' ? doc : `${JSON.stringify(doc, null, 2)}\n`);
  await rename(tmp, path);
  return previous;
}

/** Removes a model's folder (its settings file). */
export async function removeModelFolder(modelDir: string, name: string): Promise<void> {
  await rm(join(modelDir, name), { recursive: true, force: true });
}

/** Agent-managed models found on the volume (after a restart): name → markers. */
export async function managedModels(modelDir: string): Promise<Map<string, AgentMarkers>> {
  const out = new Map<string, AgentMarkers>();
  const entries = await readdir(modelDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const doc = await readJson(settingsPath(modelDir, entry.name)).catch(() => undefined);
    const params = (doc?.['parameters'] ?? {}) as Record<string, unknown>;
    const uri = params['storage_uri'];
    const key = params['tessera_agent_artefact'];
    if (typeof uri === 'string' && typeof key === 'string') {
      out.set(entry.name, { storage_uri: uri, tessera_agent_artefact: key });
    }
  }
  return out;
}
