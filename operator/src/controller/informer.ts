import type { Logger } from 'pino';
import type { KubeClient, KubeList, KubeObject, WatchEvent } from '../kube/client.js';
import { errorMessage, isGone, KubeApiError } from '../kube/errors.js';
import { LabelIndex, matchesSelector, type LabelSelector } from './label-index.js';
import { jitteredBackoffMs } from './rate-limiter.js';

/** What happened to a cached object. `resync` re-delivers an unchanged object periodically. */
export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

/** Options of an {@link Informer}. */
export interface InformerOptions {
  /** Collection path, e.g. `/apis/apps/v1/deployments` (all namespaces). */
  readonly path: string;
  readonly labelSelector?: string;
  /** Re-deliver every cached object this often (client-go "resync period"); 0 turns it off. */
  readonly resyncMs: number;
  /** Reconnect backoff bounds (full jitter). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly onEvent: (type: InformerEventType, obj: KubeObject) => void;
  readonly logger: Logger;
}

/** Cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns === undefined || ns === '' ? name : `${ns}/${name}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * A list-watch cache that keeps itself alive. client-node's informer stops on error (its own
 * example restarts it by hand); this one restarts the watch with jittered exponential backoff,
 * relists when the server answers 410 Gone (resourceVersion compacted), and re-delivers its
 * cache every `resyncMs` so a missed event is eventually reconciled (conventions 4.12).
 */
export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  private readonly index = new LabelIndex();
  private readonly abort = new AbortController();
  private resourceVersion: string | undefined;
  private synced = false;
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncWaiters: (() => void)[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
  ) {}

  /** Starts listing and watching in the background. */
  start(): void {
    if (this.running !== undefined) return;
    this.running = this.loop();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.cache.values()) this.options.onEvent('resync', obj);
      }, this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Stops the watch and the resync timer. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    for (const w of this.syncWaiters.splice(0)) w();
    await this.running;
  }

  /** Whether the first list has completed. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has completed (or the informer stops). */
  waitForSync(): Promise<void> {
    if (this.synced || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The cached object with key `namespace/name` (or `name`). */
  get(key: string): KubeObject | undefined {
    return this.cache.get(key);
  }

  /** Every cached object (a copy: O(n), for the rare caller that needs them all). */
  list(): KubeObject[] {
    return [...this.cache.values()];
  }

  /**
   * The cached objects of `namespace` that carry every label of `selector` (all of the
   * namespace without one), found through the namespace and label index, not a scan.
   */
  select(namespace: string, selector?: LabelSelector): KubeObject[] {
    const out: KubeObject[] = [];
    for (const key of this.index.candidates(namespace, selector)) {
      const obj = this.cache.get(key);
      if (obj !== undefined && (selector === undefined || matchesSelector(obj, selector)))
        out.push(obj);
    }
    return out;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce(signal);
        attempt = 0;
      } catch (err) {
        if (this.isStopped()) break;
        if (isGone(err)) {
          this.options.logger.info(
            { path: this.options.path },
            'Watch expired (410 Gone), relisting',
          );
          this.resourceVersion = undefined;
          continue;
        }
        const delay = jitteredBackoffMs(
          attempt++,
          this.options.backoffBaseMs ?? 200,
          this.options.backoffMaxMs ?? 30_000,
        );
        this.options.logger.warn(
          { path: this.options.path, err: errorMessage(err), retryInMs: delay },
          'Watch failed, restarting',
        );
        await sleep(delay, signal);
      }
    }
  }

  private isStopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, KubeObject>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.client.request<KubeList>('GET', this.options.path, {
        query: { labelSelector: this.options.labelSelector, limit: 500, continue: continueToken },
      });
      for (const item of page.items) fresh.set(objectKey(item), item);
      continueToken = page.metadata.continue === '' ? undefined : page.metadata.continue;
      resourceVersion = page.metadata.resourceVersion;
    } while (continueToken !== undefined);
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.cache.delete(key);
        this.index.remove(key, old);
        this.options.onEvent('delete', old);
      }
    }
    for (const [key, obj] of fresh) this.store(key, obj);
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private store(key: string, obj: KubeObject): void {
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    this.index.update(key, obj, old);
    if (old === undefined) this.options.onEvent('add', obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      this.options.onEvent('update', obj);
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    // The server ends a watch after timeoutSeconds; a randomised value spreads reconnects
    // (client-go reflector uses minWatchTimeout * (1 + rand)).
    const timeoutSeconds = 240 + Math.floor(Math.random() * 240);
    await this.client.watch(
      this.options.path,
      {
        labelSelector: this.options.labelSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      (event) => {
        this.handle(event);
      },
      signal,
    );
  }

  private handle(event: WatchEvent): void {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(
        status.code ?? 500,
        status.reason ?? '',
        status.message ?? 'watch error',
      );
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv !== undefined) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(event.object);
    if (event.type === 'DELETED') {
      const old = this.cache.get(key);
      this.cache.delete(key);
      if (old !== undefined) this.index.remove(key, old);
      this.options.onEvent('delete', event.object);
      return;
    }
    this.store(key, event.object);
  }
}
