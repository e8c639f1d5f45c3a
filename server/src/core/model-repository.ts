/**
 * Discovery of models on disk, following MLServer's layout (mlserver-features.md §7): the
 * repository root is searched recursively for `model-settings.json`; each file describes one model
 * version. The repository only reads; the registry decides what is loaded.
 */
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { getErrorMessage } from '../errors.js';
import { parseModelSettings, type ModelSettings } from './model-settings.js';

const SETTINGS_FILE = 'model-settings.json';
const SKIPPED_DIRS = new Set(['node_modules', '.git']);

/** A model-settings.json that could not be used, reported under the model's (folder) name. */
export interface SettingsProblem {
  readonly name: string;
  readonly message: string;
}

/** The result of one scan: usable settings and the files that were not. */
export interface RepositoryScan {
  readonly models: readonly ModelSettings[];
  readonly problems: readonly SettingsProblem[];
}

/** Reads model settings from a folder tree. */
export class ModelRepository {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** Scans the whole repository. Problems in one file never hide the other models. */
  async scan(): Promise<RepositoryScan> {
    const files = await this.#settingsFiles();
    const models: ModelSettings[] = [];
    const problems: SettingsProblem[] = [];
    for (const file of files) {
      const result = await this.#read(file);
      if (result.ok) models.push(result.settings);
      else problems.push({ name: result.name, message: result.message });
    }
    return { models, problems };
  }

  /** All versions of one model, plus problems filed under that name. */
  async find(name: string): Promise<{ models: ModelSettings[]; problems: SettingsProblem[] }> {
    const scan = await this.scan();
    return {
      models: scan.models.filter((m) => m.name === name),
      problems: scan.problems.filter((p) => p.name === name),
    };
  }

  async #settingsFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const entry of entries) {
        if (entry.isDirectory()) {
          if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.')) {
            await walk(join(dir, entry.name));
          }
        } else if (entry.name === SETTINGS_FILE && entry.isFile()) {
          out.push(join(dir, entry.name));
        }
      }
    };
    await walk(this.#root);
    return out.sort();
  }

  async #read(
    file: string,
  ): Promise<{ ok: true; settings: ModelSettings } | { ok: false; name: string; message: string }> {
    const folder = dirname(file);
    const source = relative(this.#root, file).split(sep).join('/');
    const defaultName = basename(folder);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      return {
        ok: false,
        name: defaultName,
        message: `${source}: not valid JSON (${getErrorMessage(error)})`,
      };
    }
    const declared = (raw as { name?: unknown } | null)?.name;
    const name = typeof declared === 'string' && declared !== '' ? declared : defaultName;
    const parsed = parseModelSettings(raw, { folder, source, defaultName });
    if (!parsed.ok) return { ok: false, name, message: parsed.message };
    if (!this.#isInside(parsed.settings.uri) && !isAbsoluteUri(raw)) {
      return {
        ok: false,
        name,
        message: `${source}: parameters.uri: must stay inside the model repository`,
      };
    }
    return parsed;
  }

  #isInside(path: string): boolean {
    const rel = relative(this.#root, path);
    return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep));
  }
}

/** An absolute `parameters.uri` is the operator's or agent's choice (e.g. /mnt/models) and is kept. */
function isAbsoluteUri(raw: unknown): boolean {
  const uri = (raw as { parameters?: { uri?: unknown } }).parameters?.uri;
  return typeof uri === 'string' && (uri.startsWith('/') || uri.startsWith('file:///'));
}
