/**
 * A typed client of the repository API, used by the agent (towards the server's admin port) and
 * by the operator (towards the agent). Responses are parsed with the same schemas the servers
 * answer with, so a change on one side fails the other's build or tests, not production.
 */
import type { z } from 'zod';
import {
  REPOSITORY_ROUTES,
  agentIndexEntrySchema,
  errorBodySchema,
  repositoryIndexEntrySchema,
  type AgentIndexEntry,
  type AgentLoadParameters,
  type RepositoryIndexEntry,
} from './repository-api.js';

/** A repository call that did not succeed: the HTTP status (0 when nothing answered) and why. */
export class RepositoryApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RepositoryApiError';
  }

  /** Nothing answered (connection refused, reset, timed out). */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

export interface RepositoryClientOptions {
  /** Default per-call timeout; load calls usually pass their own. */
  readonly timeoutMs?: number;
}

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Client of the server's repository API (admin port) or the agent's (agent port). */
export class RepositoryClient {
  readonly #base: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, options: RepositoryClientOptions = {}) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** `POST /v2/repository/index`, as the server answers it. */
  async index(options: CallOptions = {}): Promise<RepositoryIndexEntry[]> {
    const body = await this.#post(REPOSITORY_ROUTES.index, {}, options);
    return parseList(repositoryIndexEntrySchema, body, 'repository index');
  }

  /** `POST /v2/repository/index` on the agent: entries carry pull state and storage URIs. */
  async agentIndex(options: CallOptions = {}): Promise<AgentIndexEntry[]> {
    const body = await this.#post(REPOSITORY_ROUTES.index, {}, options);
    return parseList(agentIndexEntrySchema, body, 'agent index');
  }

  /** Loads (or reloads) a model from the files already on the server's volume. */
  async load(model: string, options: CallOptions = {}): Promise<void> {
    await this.#post(REPOSITORY_ROUTES.load(model), {}, options);
  }

  /** Asks the agent to pull `parameters.storage_uri` and load it; idempotent. */
  async loadFromStorage(
    model: string,
    parameters: AgentLoadParameters,
    options: CallOptions = {},
  ): Promise<void> {
    await this.#post(REPOSITORY_ROUTES.load(model), { parameters }, options);
  }

  /** Unloads a model; the agent also frees its files. */
  async unload(model: string, options: CallOptions = {}): Promise<void> {
    await this.#post(REPOSITORY_ROUTES.unload(model), {}, options);
  }

  async #post(path: string, body: unknown, options: CallOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(this.#base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw new RepositoryApiError(0, unreachableMessage(error, timeout.aborted));
    }
    const text = await response.text();
    const json = parseJson(text);
    if (!response.ok) {
      const parsed = errorBodySchema.safeParse(json);
      const message = parsed.success ? parsed.data.error : `HTTP ${response.status}`;
      throw new RepositoryApiError(response.status, message);
    }
    return json;
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseList<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T>[] {
  if (!Array.isArray(body)) throw new RepositoryApiError(502, `${what}: expected a JSON array`);
  return body.map((entry, i) => {
    const parsed = schema.safeParse(entry);
    if (!parsed.success) throw new RepositoryApiError(502, `${what}: entry ${i} is malformed`);
    return parsed.data;
  });
}

function unreachableMessage(error: unknown, timedOut: boolean): string {
  if (timedOut) return 'timed out';
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code === undefined ? 'unreachable' : `unreachable (${code})`;
}
