/**
 * The agent's core: load (pull, place, switch settings, ask the server), unload and the merged
 * index. Operations on one model run one at a time in arrival order; an identical load that
 * arrives while one is in flight joins it instead of queueing.
 *
 * Invariants:
 * - The server only ever sees complete artefacts: settings point into artefacts/ after the rename.
 * - A failed update leaves the previous settings file and artefact in place, so the server keeps
 *   serving the old version (its reload keeps old instances until new ones are READY).
 * - Every message that leaves the agent passes the redactor: no secret reaches a caller.
 */
import {
  RepositoryApiError,
  storageUriFingerprint,
  type AgentIndexEntry,
  type AgentLoadParameters,
  type PullPhase,
  type RepositoryClient,
} from '@tessera/contract';
import { ArtefactStore } from './artefact-store.js';
import type { AgentSettings } from './config.js';
import type { Redactor } from './credentials.js';
import { AgentError, AgentErrorCode, toAgentError } from './errors.js';
import type { AgentLogger } from './logger.js';
import type { AgentMetrics } from './metrics.js';
import { buildSettings, managedModels, removeModelFolder, switchSettings } from './model-layout.js';
import type { Puller } from './puller.js';
import { displayUri } from './storage-uri.js';

/** What the agent placed for one model. */
interface Placed {
  readonly storageUri: string;
  readonly key: string;
  readonly sizeBytes: number;
}

/** The last pull of one model, as the index reports it. */
interface PullState {
  phase: PullPhase;
  storageUri: string;
  bytes: number;
  message?: string;
  time: string;
}

export interface AgentDeps {
  readonly settings: AgentSettings;
  readonly store: ArtefactStore;
  readonly puller: Puller;
  readonly server: RepositoryClient;
  readonly metrics: AgentMetrics;
  readonly logger: AgentLogger;
  readonly redactor: Redactor;
}

export class Agent {
  readonly #deps: AgentDeps;
  readonly #placed = new Map<string, Placed>();
  readonly #pulls = new Map<string, PullState>();
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #inFlight = new Map<string, { id: string; done: Promise<void> }>();

  constructor(deps: AgentDeps) {
    this.#deps = deps;
  }

  /** Recovers what an earlier agent placed and discards half-done pulls. */
  async init(): Promise<void> {
    const found = await managedModels(this.#deps.settings.model_dir);
    for (const [name, markers] of found) {
      const key = markers.tessera_agent_artefact;
      // The size counts against cache_bytes when this model is unloaded later.
      const sizeBytes = await this.#deps.store.size(key);
      this.#placed.set(name, { storageUri: markers.storage_uri, key, sizeBytes });
    }
    await this.#deps.store.init(new Set([...found.values()].map((m) => m.tessera_agent_artefact)));
  }

  /** Loads `name` from `params.storage_uri`; resolves when it is READY, rejects with why not. */
  load(name: string, params: AgentLoadParameters): Promise<void> {
    const id = JSON.stringify(params);
    const current = this.#inFlight.get(name);
    if (current?.id === id) return current.done;
    const done = this.#serialize(name, () => this.#load(name, params)).finally(() => {
      if (this.#inFlight.get(name)?.done === done) this.#inFlight.delete(name);
    });
    this.#inFlight.set(name, { id, done });
    return done;
  }

  /** Unloads `name` from the server, then removes its files (the artefact may stay cached). */
  unload(name: string): Promise<void> {
    return this.#serialize(name, () => this.#unload(name));
  }

  /** The server's index merged with what the agent placed and is pulling. */
  async index(): Promise<AgentIndexEntry[]> {
    const entries = await this.#serverCall(() => this.#deps.server.index());
    const out: AgentIndexEntry[] = entries.map((entry) => this.#decorate({ ...entry }));
    const named = new Set(entries.map((e) => e.name));
    for (const [name, pull] of this.#pulls) {
      if (named.has(name)) continue;
      out.push(
        this.#decorate({
          name,
          state: pull.phase === 'Pulling' ? 'LOADING' : 'UNAVAILABLE',
          reason: pull.message ?? '',
        }),
      );
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  #decorate(entry: AgentIndexEntry): AgentIndexEntry {
    const placed = this.#placed.get(entry.name);
    const pull = this.#pulls.get(entry.name);
    return {
      ...entry,
      ...(placed === undefined
        ? {}
        : {
            storage_uri: displayUri(placed.storageUri),
            storage_uri_fingerprint: storageUriFingerprint(placed.storageUri),
            ...(placed.sizeBytes > 0 ? { size_bytes: placed.sizeBytes } : {}),
          }),
      ...(pull === undefined
        ? {}
        : {
            pull: {
              phase: pull.phase,
              storage_uri: displayUri(pull.storageUri),
              storage_uri_fingerprint: storageUriFingerprint(pull.storageUri),
              bytes: pull.bytes,
              time: pull.time,
              ...(pull.message === undefined ? {} : { message: pull.message }),
            },
          }),
    };
  }

  #serialize<T>(name: string, op: () => Promise<T>): Promise<T> {
    const tail = this.#tails.get(name) ?? Promise.resolve();
    const run = tail.then(op, op);
    const settled = run.catch(() => undefined);
    this.#tails.set(name, settled);
    void settled.then(() => {
      if (this.#tails.get(name) === settled) this.#tails.delete(name);
    });
    return run;
  }

  async #load(name: string, params: AgentLoadParameters): Promise<void> {
    const placed = this.#placed.get(name);
    if (placed?.storageUri === params.storage_uri && (await this.#serverReady(name))) {
      this.#deps.metrics.loadFinished('noop');
      return;
    }
    const key = ArtefactStore.key(params.storage_uri);
    try {
      const sizeBytes = await this.#ensureArtefact(name, key, params);
      await this.#place(name, { storageUri: params.storage_uri, key, sizeBytes }, params, placed);
      this.#deps.metrics.loadFinished('success');
    } catch (error) {
      this.#deps.metrics.loadFinished('failure');
      throw this.#fail(name, params.storage_uri, error);
    }
  }

  /** Makes sure artefact `key` is complete on the volume, pulling it if needed. */
  async #ensureArtefact(name: string, key: string, params: AgentLoadParameters): Promise<number> {
    const { puller, store, metrics, logger } = this.#deps;
    const scheme = puller.scheme(params.storage_uri);
    const inUse = [...this.#placed.values()].find((p) => p.key === key);
    const onDisk = inUse?.sizeBytes ?? (await store.take(key));
    if (onDisk !== undefined) {
      metrics.pullCached(scheme);
      this.#setPull(name, { phase: 'Pulled', storageUri: params.storage_uri, bytes: 0 });
      logger.info({ model: name, scheme, bytes: onDisk }, 'Artefact already on the volume');
      return onDisk;
    }
    const state = this.#setPull(name, {
      phase: 'Pulling',
      storageUri: params.storage_uri,
      bytes: 0,
    });
    const finished = metrics.pullStarted(scheme);
    const started = performance.now();
    logger.info(
      { model: name, storage_uri: displayUri(params.storage_uri), scheme },
      'Pull started',
    );
    try {
      const size = await puller.pull(key, params, state);
      finished('success', state.bytes);
      this.#setPull(name, { phase: 'Pulled', storageUri: params.storage_uri, bytes: state.bytes });
      logger.info(
        {
          model: name,
          scheme,
          bytes: state.bytes,
          duration_ms: Math.round(performance.now() - started),
        },
        'Pull finished',
      );
      return size;
    } catch (error) {
      finished('failure', state.bytes);
      throw error;
    }
  }

  /** Switches the model's settings to the new artefact and asks the server to (re)load. */
  async #place(
    name: string,
    next: Placed,
    params: AgentLoadParameters,
    previous: Placed | undefined,
  ): Promise<void> {
    const { settings, store, server } = this.#deps;
    const doc = await buildSettings(settings.model_dir, name, store.dir(next.key), params, {
      storage_uri: next.storageUri,
      tessera_agent_artefact: next.key,
    });
    const before = await switchSettings(settings.model_dir, name, doc);
    try {
      await this.#serverCall(() => server.load(name, { timeoutMs: settings.load_timeout_ms }));
    } catch (error) {
      // Put the previous settings back: the server kept serving the old version, and a restart
      // of either process must find the version that serves, not the one that failed.
      if (before === undefined) await removeModelFolder(settings.model_dir, name);
      else await switchSettings(settings.model_dir, name, before);
      // The new artefact goes unless the previous version or another model still uses it.
      const shared = [...this.#placed.values()].some((p) => p.key === next.key);
      if (previous?.key !== next.key && !shared) await store.remove(next.key);
      throw error;
    }
    this.#placed.set(name, next);
    if (previous !== undefined && previous.key !== next.key) await this.#release(previous);
  }

  async #unload(name: string): Promise<void> {
    const { settings, server } = this.#deps;
    const placed = this.#placed.get(name);
    try {
      await this.#serverCall(() => server.unload(name));
    } catch (error) {
      const notFound = error instanceof AgentError && error.code === AgentErrorCode.NOT_FOUND;
      if (!notFound || placed !== undefined) throw error;
    }
    this.#placed.delete(name);
    this.#pulls.delete(name);
    await removeModelFolder(settings.model_dir, name);
    if (placed !== undefined) await this.#release(placed);
  }

  /** An artefact no model uses: cached within budget, else deleted. */
  async #release(placed: Placed): Promise<void> {
    const stillUsed = [...this.#placed.values()].some((p) => p.key === placed.key);
    if (!stillUsed) {
      await this.#deps.store.release(placed.key, placed.sizeBytes);
    }
  }

  async #serverReady(name: string): Promise<boolean> {
    const index = await this.#serverCall(() => this.#deps.server.index());
    return index.some((e) => e.name === name && e.state === 'READY');
  }

  /** Calls the server; its failures become agent errors that carry the server's reason. */
  async #serverCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof RepositoryApiError)) throw error;
      if (error.unreachable) {
        throw new AgentError(
          AgentErrorCode.SERVER_UNAVAILABLE,
          `the model server's repository API is ${error.message}`,
        );
      }
      const code = error.status === 404 ? AgentErrorCode.NOT_FOUND : AgentErrorCode.LOAD_FAILED;
      throw new AgentError(code, error.message);
    }
  }

  #setPull(name: string, state: Omit<PullState, 'time'>): PullState {
    const full = { ...state, time: new Date().toISOString() };
    this.#pulls.set(name, full);
    return full;
  }

  /** Records a failed load in the pull state and returns the error to throw (redacted). */
  #fail(name: string, storageUri: string, error: unknown): AgentError {
    const agentError = toAgentError(error);
    const message = this.#deps.redactor.redact(agentError.message);
    const previous = this.#pulls.get(name);
    this.#setPull(name, {
      phase: 'Failed',
      storageUri,
      bytes: previous?.storageUri === storageUri ? previous.bytes : 0,
      message,
    });
    this.#deps.logger.warn(
      { model: name, code: agentError.code, reason: message, err: agentError.cause },
      'Load failed',
    );
    return new AgentError(agentError.code, message);
  }
}
