/**
 * The parameters of a repository load (Triton extension_model_repository.md, "Load"):
 * - `config`: a JSON Triton model configuration used instead of the model's own settings;
 * - `file:<version>/<path>`: the contents of a model file. With any `file:` parameter the model is
 *   loaded from these files only (Triton: "the model directory will be … replaced"), and `config`
 *   is required. REST carries the contents as base64 text, gRPC as `bytes_param`.
 *
 * Anything else is refused by name: a load whose parameters were silently dropped would serve a
 * different model from the one the client asked for.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { invalidInput, shorten } from '../errors.js';
import { parseConfigOverride, type ConfigOverride } from './model-config.js';

/** One load parameter as the wire carried it (Triton's `ModelRepositoryParameter` choices). */
export type LoadParameter =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly value: number };

/** The parsed parameters of one load. */
export interface LoadRequest {
  readonly config?: ConfigOverride;
  /** Model files by version, each a list of (relative path, contents). */
  readonly files?: ReadonlyMap<string, readonly ModelFile[]>;
}

/** One file of a `file:` load. */
export interface ModelFile {
  readonly path: string;
  readonly contents: Uint8Array;
}

/** Bounds on a `file:` load, on top of the transport's body and message limits. */
export const FILE_LIMITS = {
  maxFiles: 64,
  maxPathLength: 1024,
  maxDepth: 8,
  maxTotalBytes: 1024 * 1024 * 1024,
} as const;

const FILE_PREFIX = 'file:';
// Triton's version folders are positive integers without leading zeros (model_lifecycle.cc).
const VERSION = /^[1-9]\d{0,18}$/;
// One path segment: no separators, no '.'/'..', no hidden names, nothing a shell or OS treats
// specially; the files land in a fresh folder, and nothing may point outside it.
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Parses and validates load parameters; throws INVALID_INPUT naming the parameter. */
export function parseLoadParameters(
  model: string,
  params: Readonly<Record<string, LoadParameter>>,
): LoadRequest {
  const where = `load of model '${shorten(model)}'`;
  let config: ConfigOverride | undefined;
  const files = new Map<string, ModelFile[]>();
  let count = 0;
  let total = 0;
  for (const [key, param] of Object.entries(params)) {
    if (key === 'config') {
      if (param.kind !== 'string') {
        throw invalidInput(`${where}: parameters.config must be a string holding JSON`);
      }
      config = parseConfigOverride(model, param.value);
    } else if (key.startsWith(FILE_PREFIX)) {
      const { version, path } = filePath(where, key.slice(FILE_PREFIX.length));
      const contents = fileContents(where, key, param);
      count++;
      total += contents.byteLength;
      if (count > FILE_LIMITS.maxFiles) {
        throw invalidInput(`${where}: more than ${FILE_LIMITS.maxFiles} file: parameters`);
      }
      if (total > FILE_LIMITS.maxTotalBytes) {
        throw invalidInput(
          `${where}: file: parameters hold more than ${FILE_LIMITS.maxTotalBytes} bytes`,
        );
      }
      const list = files.get(version) ?? [];
      list.push({ path, contents });
      files.set(version, list);
    } else {
      throw invalidInput(
        `${where}: unknown parameter '${shorten(key)}' (supported: config, file:<version>/<path>)`,
      );
    }
  }
  for (const list of files.values()) checkNoFileIsAFolder(where, list);
  if (files.size > 0 && config === undefined) {
    // Triton: "config must be provided when any file: parameter is given".
    throw invalidInput(`${where}: file: parameters need a parameters.config as well`);
  }
  return {
    ...(config === undefined ? {} : { config }),
    ...(files.size === 0 ? {} : { files }),
  };
}

/** `1/a` and `1/a/b` cannot both exist: one would have to be a file and a folder at once. */
function checkNoFileIsAFolder(where: string, files: readonly ModelFile[]): void {
  const paths = new Set(files.map((f) => f.path));
  for (const file of files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (paths.has(folder)) {
        throw invalidInput(
          `${where}: parameters 'file:…/${shorten(folder)}' and 'file:…/${shorten(file.path)}' conflict: '${shorten(folder)}' cannot be both a file and a folder`,
        );
      }
    }
  }
}

function filePath(where: string, rest: string): { version: string; path: string } {
  const shown = `file:${shorten(rest)}`;
  if (rest.length > FILE_LIMITS.maxPathLength) {
    throw invalidInput(
      `${where}: parameter '${shown}': path longer than ${FILE_LIMITS.maxPathLength} characters`,
    );
  }
  const segments = rest.split('/');
  const [version, ...path] = segments;
  if (version === undefined || !VERSION.test(version) || path.length === 0) {
    throw invalidInput(
      `${where}: parameter '${shown}': must be file:<version>/<file name>, the version a positive integer (e.g. file:1/model.onnx)`,
    );
  }
  if (path.length > FILE_LIMITS.maxDepth) {
    throw invalidInput(
      `${where}: parameter '${shown}': more than ${FILE_LIMITS.maxDepth} folders deep`,
    );
  }
  for (const segment of path) {
    if (!SEGMENT.test(segment)) {
      throw invalidInput(
        `${where}: parameter '${shown}': '${shorten(segment)}' is not an allowed file or folder name (letters, digits, '.', '_' and '-', not starting with '.'; no '..', '\\' or absolute paths)`,
      );
    }
  }
  return { version, path: path.join('/') };
}

function fileContents(where: string, key: string, param: LoadParameter): Uint8Array {
  if (param.kind === 'bytes') return param.value;
  if (param.kind === 'string') {
    if (!BASE64.test(param.value)) {
      throw invalidInput(`${where}: parameter '${shorten(key)}': not base64 text`);
    }
    return Buffer.from(param.value, 'base64');
  }
  throw invalidInput(
    `${where}: parameter '${shorten(key)}': must hold the file's contents (base64 text over REST, bytes_param over gRPC)`,
  );
}

/** Whether a name can be one path segment of a model file (what `file:` paths allow). */
export function isSafeFileName(name: string): boolean {
  return SEGMENT.test(name);
}

/**
 * Writes one version's files into a fresh folder under the system's temporary folder and returns
 * it. The caller owns the folder and removes it when the version is retired ({@link removeFolder}).
 */
export async function writeVersionFolder(
  model: string,
  version: string,
  files: readonly ModelFile[],
): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), `tessera-${model}-${version}-`));
  try {
    for (const file of files) {
      // Triton's layout, <folder>/<version>/<path>; paths were checked by parseLoadParameters.
      const target = join(folder, version, ...file.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      // 'wx': never follow or replace something already there.
      await writeFile(target, file.contents, { flag: 'wx' });
    }
  } catch (error) {
    await removeFolder(folder);
    throw error;
  }
  return folder;
}

/** Removes a folder written by {@link writeVersionFolder}; never throws. */
export async function removeFolder(folder: string): Promise<void> {
  await rm(folder, { recursive: true, force: true }).catch(() => undefined);
}
