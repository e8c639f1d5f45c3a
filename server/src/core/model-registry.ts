/**
 * The multi-model, multi-version registry and its lifecycle state machine.
 *
 * Invariants:
 * - Lifecycle operations (load, unload) on one model name run one at a time, in arrival order, so
 *   concurrent calls can never leave a model stuck in LOADING; the final state is the last call's.
 * - A reload is zero-downtime: the new instances are READY and serving before the old ones are
 *   retired (Triton model_lifecycle.h: "All versions that are being served will be unloaded only
 *   after the load is finished successfully"). A failed reload keeps the old instances serving.
 * - An instance is unloaded only after its in-flight requests have drained (or the drain timeout
 *   passed), and a runtime call is never abandoned while its instance is being freed.
 */
import { performance } from 'node:perf_hooks';
import {
  ErrorCode,
  ServerError,
  getErrorMessage,
  modelNotFound,
  modelNotReady,
  redactPaths,
} from '../errors.js';
import { declaredContentTypeProblem } from './codecs/content-type.js';
import { InferenceStatistics } from './inference-statistics.js';
import { removeFolder } from './load-parameters.js';
import type { TritonNames } from './model-config.js';
import { assertModelName } from './model-name.js';
import type { ModelRepository } from './model-repository.js';
import type { ModelInstance, ModelRuntime } from './model-runtime.js';
import type { ModelSettings } from './model-settings.js';
import type { CoreObserver, Logger } from './ports.js';
import { ModelState, type RepositoryIndexEntry } from './types.js';
import { compareVersions } from './version-order.js';

/** Load order of every version loaded in this process (see {@link LoadedModel.sequence}). */
let loadSequence = 0;

/** A loaded model version and its in-flight bookkeeping. */
export class LoadedModel {
  readonly settings: ModelSettings;
  readonly instance: ModelInstance;
  /** The runtime's names in Triton's model configuration. */
  readonly triton: TritonNames;
  /** Triton-style statistics of this version; they start at zero when the version (re)loads. */
  readonly statistics = new InferenceStatistics();
  /** A folder written for this version by a `file:` load, removed when the version is retired. */
  readonly ownedFolder: string | undefined;
  /**
   * When this version was loaded, relative to the others (lower: earlier): of two models that
   * mount the same custom REST route, the earlier answers (core/custom-handlers.ts).
   */
  readonly sequence = ++loadSequence;
  #inFlight = 0;
  #onDrained: (() => void) | undefined;

  constructor(
    settings: ModelSettings,
    instance: ModelInstance,
    triton: TritonNames = { platform: '', backend: settings.implementation },
    ownedFolder?: string,
  ) {
    this.settings = settings;
    this.instance = instance;
    this.triton = triton;
    this.ownedFolder = ownedFolder;
  }

  /** The runtime's memory estimate of this version (bytes), when it gives one. */
  get memoryBytes(): number | undefined {
    const bytes = this.instance.memoryBytes;
    return bytes === undefined || !Number.isFinite(bytes)
      ? undefined
      : Math.max(0, Math.round(bytes));
  }

  /** The version key: `parameters.version`, or '' for an unversioned model. */
  get version(): string {
    return this.settings.version ?? '';
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Marks one request as started; pair with {@link release}. */
  retain(): void {
    this.#inFlight++;
  }

  /** Marks one request as finished. */
  release(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#onDrained?.();
  }

  /** Resolves once no request is in flight, or after `timeoutMs`; true when it drained. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolveDrain) => {
      const timer = setTimeout(() => {
        resolveDrain(false);
      }, timeoutMs);
      this.#onDrained = () => {
        clearTimeout(timer);
        resolveDrain(true);
      };
    });
  }
}

class ModelEntry {
  readonly name: string;
  serving = new Map<string, LoadedModel>();
  /** Versions the repository declared at the last load, for 404-vs-503 answers. */
  knownVersions = new Set<string>();
  state: ModelState = ModelState.UNAVAILABLE;
  reason = '';
  #tail: Promise<unknown> = Promise.resolve();

  constructor(name: string) {
    this.name = name;
  }

  /** Runs `op` after every earlier lifecycle operation on this model has settled. */
  serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(op, op);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** The version picked when a request names none: the highest ready version. */
  defaultModel(): LoadedModel | undefined {
    let best: LoadedModel | undefined;
    for (const model of this.serving.values()) {
      if (best === undefined || compareVersions(model.version, best.version) > 0) best = model;
    }
    return best;
  }
}

/**
 * How one load departs from the settings on disk (a repository load with parameters, see
 * load-parameters.ts).
 */
export interface LoadOverride {
  /** Versions to load instead of those on disk (a `file:` load); the model need not be on disk. */
  readonly replace?: readonly ModelSettings[];
  /** Applied to each version's settings before it loads (a `config` load). */
  readonly transform?: (settings: ModelSettings) => ModelSettings;
  /** Folders written for this load: a version loaded from one owns it; a failed load removes them. */
  readonly folders?: readonly string[];
}

/** Dependencies of the registry. */
export interface RegistryDeps {
  readonly repository: ModelRepository;
  readonly runtimes: readonly ModelRuntime[];
  readonly observer: CoreObserver;
  readonly logger: Logger;
  /** How long an unload or a reload waits for in-flight requests before freeing the model. */
  readonly drainTimeoutMs: number;
}

/** Tracks every model the server knows and drives their lifecycle. */
export class ModelRegistry {
  readonly #deps: RegistryDeps;
  readonly #entries = new Map<string, ModelEntry>();
  readonly #runtimes = new Map<string, ModelRuntime>();
  #lookups: Promise<unknown> = Promise.resolve();

  constructor(deps: RegistryDeps) {
    this.#deps = deps;
    for (const runtime of deps.runtimes) {
      for (const key of [runtime.name, ...runtime.aliases]) this.#runtimes.set(key, runtime);
    }
  }

  /** Registers every model on disk as UNAVAILABLE; problems in a file are kept as the reason. */
  async discover(): Promise<string[]> {
    const scan = await this.#deps.repository.scan();
    const names = new Set<string>();
    for (const model of scan.models) names.add(model.name);
    for (const problem of scan.problems) {
      names.add(problem.name);
      const entry = this.#entry(problem.name);
      if (entry.serving.size === 0) entry.reason = problem.message;
    }
    for (const name of names) this.#entry(name);
    return [...names].sort();
  }

  /**
   * Picks the instance that serves a request and retains it; the caller must `release()` it.
   * Invalid name: 400, as on the repository routes (docs/errors.md). Unknown model or version: 404.
   * Known but not serving: 503.
   */
  acquire(name: string, version?: string): LoadedModel {
    assertModelName(name);
    const entry = this.#entries.get(name);
    // An unknown name is one message whatever the version (Triton: "'m' is not found").
    if (entry === undefined) throw modelNotFound(name);
    const model =
      version === undefined || version === '' ? entry.defaultModel() : entry.serving.get(version);
    if (model === undefined) {
      if (
        version !== undefined &&
        version !== '' &&
        !entry.knownVersions.has(version) &&
        entry.serving.size > 0
      ) {
        throw modelNotFound(name, version);
      }
      throw modelNotReady(name, describeState(entry), version);
    }
    model.retain();
    return model;
  }

  /**
   * Whether a model (or one version of it) is serving. Invalid and unknown names are errors (400,
   * 404), as in Triton.
   */
  isReady(name: string, version?: string): boolean {
    assertModelName(name);
    const entry = this.#entries.get(name);
    if (entry === undefined) throw modelNotFound(name);
    if (version === undefined || version === '') {
      return [...entry.serving.values()].some(serves);
    }
    if (
      !entry.serving.has(version) &&
      !entry.knownVersions.has(version) &&
      entry.serving.size > 0
    ) {
      throw modelNotFound(name, version);
    }
    const model = entry.serving.get(version);
    return model !== undefined && serves(model);
  }

  /** Why a model (version) that {@link isReady} calls not ready is not, in the user's terms. */
  whyNotReady(name: string, version?: string): string {
    const entry = this.#entries.get(name);
    if (entry === undefined) return 'it is not loaded';
    const loaded =
      version === undefined || version === ''
        ? [...entry.serving.values()]
        : [entry.serving.get(version)].filter((m) => m !== undefined);
    const down = loaded.map((m) => m.instance.unavailable?.()).find((r) => r !== undefined);
    return down ?? describeState(entry);
  }

  /**
   * The serving versions a statistics request covers: every model (no name), every version of one
   * model (no version), or one version. Unknown names and versions are 404; a known model with no
   * serving version is 503, as for inference.
   */
  serving(name?: string, version?: string): { name: string; model: LoadedModel }[] {
    const byVersion = (entry: ModelEntry) =>
      [...entry.serving.values()]
        .sort((a, b) => compareVersions(a.version, b.version))
        .map((model) => ({ name: entry.name, model }));
    if (name === undefined || name === '') {
      return [...this.#entries.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap(byVersion);
    }
    if (version === undefined || version === '') {
      assertModelName(name);
      const entry = this.#entries.get(name);
      if (entry === undefined) throw modelNotFound(name);
      if (entry.serving.size === 0) throw modelNotReady(name, describeState(entry));
      return byVersion(entry);
    }
    const model = this.acquire(name, version);
    model.release();
    return [{ name, model }];
  }

  /**
   * The `implementation` that a Triton `platform` or `backend` selects: a runtime's Triton names,
   * its name or one of its aliases; undefined when no runtime answers to it.
   */
  resolveImplementation(tritonName: string): string | undefined {
    const direct = this.#runtimes.get(tritonName);
    if (direct !== undefined) return direct.name;
    for (const runtime of this.#runtimes.values()) {
      if (runtime.triton?.platform === tritonName || runtime.triton?.backend === tritonName) {
        return runtime.name;
      }
    }
    return undefined;
  }

  /** The Triton names (`platform`, `backend`) of every runtime, for messages. */
  tritonNames(): string[] {
    const names = new Set<string>();
    for (const runtime of this.#runtimes.values()) {
      names.add(runtime.triton?.platform || runtime.name);
      names.add(runtime.triton?.backend ?? runtime.name);
    }
    return [...names].sort();
  }

  /** Every serving version of a model, ordered. */
  servingVersions(name: string): string[] {
    const entry = this.#entries.get(name);
    if (entry === undefined) return [];
    return [...entry.serving.keys()].filter((v) => v !== '').sort(compareVersions);
  }

  /** The repository index: every model on disk or in memory, with its state and reason. */
  async index(readyOnly: boolean): Promise<RepositoryIndexEntry[]> {
    await this.discover();
    const out: RepositoryIndexEntry[] = [];
    for (const entry of [...this.#entries.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.serving.size > 0) {
        for (const model of [...entry.serving.values()].sort((a, b) =>
          compareVersions(a.version, b.version),
        )) {
          // A loaded version whose runtime cannot serve now (a restarting worker) says so.
          const down = model.instance.unavailable?.();
          out.push(
            down === undefined
              ? indexEntry(entry.name, model.version, entry.state, entry.reason, model.memoryBytes)
              : indexEntry(entry.name, model.version, ModelState.UNAVAILABLE, down),
          );
        }
      } else if (!readyOnly) {
        out.push(indexEntry(entry.name, '', entry.state, entry.reason));
      }
    }
    return readyOnly ? out.filter((e) => e.state === ModelState.READY) : out;
  }

  /**
   * Loads, or reloads, every version of a model found on disk, then retires versions that are gone.
   * Rejects names not in the repository with 404 and failed loads with MODEL_LOAD_FAILED.
   */
  async load(name: string, override?: LoadOverride): Promise<void> {
    try {
      const entry =
        override?.replace === undefined ? await this.#knownEntry(name) : this.#newEntry(name);
      await entry.serialize(() => this.#load(entry, override));
    } catch (error) {
      // Every version loads or none does (#instantiateAll), so a failure owns no folder any more.
      await Promise.all((override?.folders ?? []).map(removeFolder));
      throw error;
    }
  }

  /** Unloads every version of a model after draining. Unloading a model that is not loaded is a no-op. */
  async unload(name: string): Promise<void> {
    const entry = await this.#knownEntry(name);
    await entry.serialize(() => this.#unload(entry));
  }

  /**
   * The entry of a model the repository declares; 400 for an invalid name, 404 for an unknown one.
   * Only a name the registry does not know yet needs a look at the disk first (a model added since
   * the last scan). A known model is queued at once: awaiting a scan here would let a later call
   * overtake this one.
   */
  async #knownEntry(name: string): Promise<ModelEntry> {
    assertModelName(name);
    if (!this.#entries.has(name)) {
      // Lookups of unknown names complete in call order (one chain), so concurrent calls for a
      // model added since the last scan still join its queue in the order they arrived.
      const lookup = this.#lookups.then(() => this.#deps.repository.find(name));
      this.#lookups = lookup.catch(() => undefined);
      const found = await lookup;
      if (found.models.length === 0 && found.problems.length === 0 && !this.#entries.has(name)) {
        throw modelNotFound(name);
      }
    }
    return this.#entry(name);
  }

  /** The entry for a model loaded from a load's own files: it need not be on disk. */
  #newEntry(name: string): ModelEntry {
    assertModelName(name);
    return this.#entry(name);
  }

  /** Loads every model found on disk; failures are logged and kept in the index, never thrown. */
  async loadAll(): Promise<void> {
    const names = await this.discover();
    await Promise.all(
      names.map((name) =>
        this.load(name).catch((error: unknown) => {
          this.#deps.logger.error(
            { model: name, err: getErrorMessage(error) },
            'Model failed to load',
          );
        }),
      ),
    );
  }

  /** Unloads everything, for shutdown. */
  async unloadAll(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map((entry) => entry.serialize(() => this.#unload(entry))),
    );
  }

  #entry(name: string): ModelEntry {
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      entry = new ModelEntry(name);
      this.#entries.set(name, entry);
    }
    return entry;
  }

  async #load(entry: ModelEntry, override: LoadOverride | undefined): Promise<void> {
    const onDisk =
      override?.replace === undefined
        ? await this.#deps.repository.find(entry.name)
        : { models: override.replace, problems: [] };
    const transform = override?.transform;
    const found = {
      models: transform === undefined ? onDisk.models : onDisk.models.map(transform),
      problems: onDisk.problems,
    };
    const wasServing = entry.serving.size > 0;
    if (found.models.length === 0) {
      const reason =
        found.problems[0]?.message ?? 'no model-settings.json declares this model any more';
      this.#failLoad(entry, wasServing, reason);
    }
    // A reload keeps the model READY: the current versions serve until the new ones replace them, so
    // the ready index and /v2/models must not drop it meanwhile (Triton: "v1 ready until v2 ready").
    entry.state = wasServing ? ModelState.READY : ModelState.LOADING;
    entry.reason = wasServing ? 'reloading; the current version keeps serving' : '';
    let loaded: LoadedModel[];
    try {
      loaded = await this.#instantiateAll(found.models, override?.folders ?? []);
    } catch (error) {
      this.#failLoad(
        entry,
        wasServing,
        error instanceof ServerError ? error.message : redactPaths(getErrorMessage(error)),
      );
    }
    const previous = entry.serving;
    entry.serving = new Map(loaded.map((m) => [m.version, m]));
    entry.knownVersions = new Set(loaded.map((m) => m.version));
    entry.state = ModelState.READY;
    entry.reason = '';
    await this.#retire(entry, [...previous.values()]);
  }

  #failLoad(entry: ModelEntry, wasServing: boolean, reason: string): never {
    entry.state = wasServing ? ModelState.READY : ModelState.UNAVAILABLE;
    entry.reason = wasServing ? `reload failed, previous version kept serving: ${reason}` : reason;
    this.#deps.observer.modelLoadFailed(entry.name);
    this.#deps.logger.warn({ model: entry.name, reason }, 'Model load failed');
    throw new ServerError(
      ErrorCode.MODEL_LOAD_FAILED,
      `failed to load model '${entry.name}': ${reason}`,
    );
  }

  /** Loads all versions; if one fails, the ones that loaded are freed and the error is rethrown. */
  async #instantiateAll(
    settings: readonly ModelSettings[],
    folders: readonly string[],
  ): Promise<LoadedModel[]> {
    const results = await Promise.allSettled(
      settings.map((s) => this.#instantiate(s, folders.includes(s.folder) ? s.folder : undefined)),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const loaded = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failure !== undefined) {
      await Promise.all(loaded.map((m) => m.instance.unload().catch(() => undefined)));
      throw failure.reason;
    }
    return loaded;
  }

  async #instantiate(settings: ModelSettings, ownedFolder?: string): Promise<LoadedModel> {
    // `parameters.serve_with` names a runtime explicitly (e.g. "python" for a class a native
    // runtime also serves); "native" or absent: the native runtime wins (docs/python-runtimes.md),
    // unless the model names its own Python environment.
    const chosen = settings.parameters['serve_with'];
    const explicit =
      typeof chosen === 'string' && chosen !== 'native' ? this.#runtimes.get(chosen) : undefined;
    if (typeof chosen === 'string' && chosen !== 'native' && explicit === undefined) {
      throw new ServerError(
        ErrorCode.MODEL_LOAD_FAILED,
        `${settings.source}: parameters.serve_with: unknown runtime '${chosen}' (use "native" or "python")`,
      );
    }
    // A model that names its own Python environment (MLServer's environment_path /
    // environment_tarball) runs in it: the Python worker, unless serve_with says "native".
    const ownEnvironment = ['environment_path', 'environment_tarball'].some((key) => {
      const value = settings.parameters[key];
      return typeof value === 'string' && value !== '';
    });
    const python =
      chosen === undefined && ownEnvironment ? this.#runtimes.get('python') : undefined;
    const runtime =
      explicit ??
      python ??
      this.#runtimes.get(settings.implementation) ??
      this.#deps.runtimes.find((r) => r.accepts?.(settings.implementation) === true);
    if (runtime === undefined) {
      const known = [...new Set([...this.#runtimes.values()].map((r) => r.name))].join(', ');
      throw new ServerError(
        ErrorCode.MODEL_LOAD_FAILED,
        `${settings.source}: implementation: unknown runtime '${settings.implementation}' (available: ${known}); a custom runtime is a JavaScript module in the model folder (e.g. ./model.mjs) or an installed package`,
      );
    }
    const started = performance.now();
    const instance = await runtime.load(settings);
    await refuseUnknownContentTypes(instance, settings);
    const model = new LoadedModel(
      settings,
      instance,
      runtime.triton ?? { platform: '', backend: runtime.name },
      ownedFolder,
    );
    this.#deps.observer.modelLoaded(
      settings.name,
      model.version,
      (performance.now() - started) / 1000,
      model.memoryBytes,
    );
    this.#deps.logger.info({ model: settings.name, model_version: model.version }, 'Loaded model');
    return model;
  }

  async #unload(entry: ModelEntry): Promise<void> {
    if (entry.serving.size === 0) {
      entry.state = ModelState.UNAVAILABLE;
      return;
    }
    entry.state = ModelState.UNLOADING;
    entry.reason = '';
    const previous = [...entry.serving.values()];
    entry.serving = new Map();
    await this.#retire(entry, previous);
    entry.state = ModelState.UNAVAILABLE;
  }

  /**
   * Drains then frees instances that no longer serve. A version that a reload replaced keeps its
   * metric series: they belong to the version, which is still serving, not to the old instance.
   */
  async #retire(entry: ModelEntry, models: readonly LoadedModel[]): Promise<void> {
    const name = entry.name;
    await Promise.all(
      models.map(async (model) => {
        const drained = await model.drain(this.#deps.drainTimeoutMs);
        if (!drained) {
          this.#deps.logger.warn(
            { model: name, model_version: model.version, in_flight: model.inFlight },
            'Drain timeout passed; unloading with requests still in flight',
          );
        }
        await model.instance.unload().catch((error: unknown) => {
          this.#deps.logger.error(
            { model: name, err: getErrorMessage(error) },
            'Model unload failed',
          );
        });
        if (model.ownedFolder !== undefined) await removeFolder(model.ownedFolder);
        if (!entry.serving.has(model.version))
          this.#deps.observer.modelUnloaded(name, model.version);
        this.#deps.logger.info({ model: name, model_version: model.version }, 'Unloaded model');
      }),
    );
  }
}

function describeState(entry: ModelEntry): string {
  switch (entry.state) {
    case ModelState.LOADING:
      return 'it is loading';
    case ModelState.UNLOADING:
      return 'it is unloading';
    case ModelState.READY:
    case ModelState.UNAVAILABLE:
    case ModelState.UNKNOWN:
      return entry.reason === '' ? 'it is not loaded' : `it is not loaded (${entry.reason})`;
  }
}

function indexEntry(
  name: string,
  version: string,
  state: ModelState,
  reason: string,
  memoryBytes?: number,
): RepositoryIndexEntry {
  return {
    name,
    ...(version === '' ? {} : { version }),
    state,
    reason,
    ...(memoryBytes === undefined ? {} : { memory_bytes: memoryBytes }),
  };
}

/**
 * Fails a load whose model-settings.json declares a content type the core's codecs do not know,
 * naming the field, rather than failing each request later. Runtimes with their own codecs
 * (MLServer's Python ones, where custom codecs register more names) are left to check theirs.
 */
async function refuseUnknownContentTypes(
  instance: ModelInstance,
  settings: ModelSettings,
): Promise<void> {
  if (instance.metadata.appliesContentTypes === true) return;
  const problem = declaredContentTypeProblem(settings);
  if (problem === undefined) return;
  await instance.unload();
  throw new ServerError(ErrorCode.MODEL_LOAD_FAILED, `${settings.source}: ${problem}`);
}

/** Whether a loaded version serves now (its runtime reports nothing in the way). */
function serves(model: LoadedModel): boolean {
  return model.instance.unavailable?.() === undefined;
}
