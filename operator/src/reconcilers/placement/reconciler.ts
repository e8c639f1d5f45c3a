/**
 * The placement reconciler, one key per (namespace, multi-model runtime) pool: places the
 * namespace's Shared-mode InferenceServices that select the runtime onto shard Deployments by
 * memory, max(declared, reported by the servers) ({@link placeModels}), applies the shards (an empty one scales to zero, so
 * the operator needs no delete permission on Deployments), records each placement for the
 * InferenceService reconciler and the model driver, and unloads from each shard's servers the
 * models that no longer belong there (a deleted or moved InferenceService): deletion needs no
 * finalizer and never waits for an unreachable server.
 */
import type { Logger } from 'pino';
import { RepositoryClient } from '@tessera/contract';
import {
  parseInferenceService,
  servingRuntimeSchema,
  type InferenceService,
  type ServingRuntime,
} from '../../api/v1alpha1/index.js';
import { DONE, type ReconcileResult } from '../../controller/result.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { RESOURCES } from '../../kube/resources.js';
import { applyObject, needsApply } from '../../kube/ssa-apply.js';
import {
  POOL_KIND_LABEL,
  POOL_LABEL,
  SHARD_LABEL,
  buildPoolShard,
  placedModels,
  quantityToBytes,
  servedModelName,
  shardName,
  shardSelector,
  type ManifestConfig,
} from '../../manifests/index.js';
import { selectRuntime } from '../inference-service/runtime-selection.js';
import { podView } from '../model-driver/pod-view.js';
import { declaredMemoryBytes, reportedMemoryBytes } from '../model-memory.js';
import { parsePoolKey, poolKey, runtimesFor, type ObjectCache } from '../runtimes.js';
import { sharedStorageProblem } from '../storage-spec.js';
import { placeModels, type PoolModel, type Shard } from './placement.js';
import type { PlacementStore } from './placement-store.js';

/** Pool sizing. */
export interface PoolSettings {
  /** Memory a model takes when its InferenceService declares none. */
  readonly defaultModelMemoryBytes: number;
  /** Shard capacity when the runtime declares no `capacity.memory`. */
  readonly defaultCapacityBytes: number;
  readonly maxShards: number;
  /** Server replicas per non-empty shard. */
  readonly shardReplicas: number;
  /** How often each shard's agents are checked for models that left. */
  readonly recheckMs: number;
  readonly agentTimeoutMs: number;
}

export interface PlacementDeps {
  readonly client: KubeClient;
  readonly caches: {
    readonly inferenceServices: ObjectCache;
    readonly servingRuntimes: ObjectCache;
    readonly clusterServingRuntimes: ObjectCache;
    readonly deployments: ObjectCache;
    readonly pods: ObjectCache;
  };
  readonly store: PlacementStore;
  readonly fieldManager: string;
  readonly manifests: ManifestConfig;
  readonly pools: PoolSettings;
}

export class PlacementReconciler {
  constructor(private readonly deps: PlacementDeps) {}

  async reconcile(key: string, log: Logger): Promise<ReconcileResult> {
    const pool = parsePoolKey(key);
    if (pool === undefined) return DONE;
    const runtime = this.#runtime(pool);
    const members = this.#members(pool.namespace, key, log);
    if (runtime === undefined) {
      // The garbage collector removes the shards with their runtime; the InferenceServices'
      // own reconciler reports that no runtime matches any more.
      this.#forgetLeavers(key, new Set());
      return DONE;
    }
    const shards = this.#liveShards(pool.namespace, runtime);
    const placement = placeModels(members.map(toPoolModel(this.deps.pools)), shards, {
      capacityBytes: capacityOf(runtime, this.deps.pools),
      maxShards: this.deps.pools.maxShards,
    });
    for (const shard of placement.shards)
      await this.#applyShard(pool.namespace, runtime, shard, log);
    this.#record(pool.namespace, runtime, placement.shards, placement.unplaced);
    this.#forgetLeavers(key, new Set(members.map((m) => `${pool.namespace}/${m.metadata.name}`)));
    await this.#unloadStrays(pool.namespace, runtime, placement.shards, members, log);
    return { kind: 'requeueAfter', ms: this.deps.pools.recheckMs };
  }

  #runtime(pool: NonNullable<ReturnType<typeof parsePoolKey>>): ServingRuntime | undefined {
    const cache =
      pool.kind === 'ServingRuntime'
        ? this.deps.caches.servingRuntimes
        : this.deps.caches.clusterServingRuntimes;
    const raw = cache.get(
      pool.kind === 'ClusterServingRuntime' ? pool.name : `${pool.namespace}/${pool.name}`,
    );
    const parsed = raw === undefined ? undefined : servingRuntimeSchema.safeParse(raw);
    return parsed?.success === true ? parsed.data : undefined;
  }

  /** Shared InferenceServices of the namespace whose runtime selection is this pool. */
  #members(namespace: string, key: string, log: Logger): InferenceService[] {
    const runtimes = runtimesFor(this.deps.caches, namespace, log);
    const out: InferenceService[] = [];
    for (const raw of this.deps.caches.inferenceServices.select(namespace)) {
      if (raw.metadata?.deletionTimestamp !== undefined) continue;
      const { result: parsed, supported } = parseInferenceService(raw);
      if (!supported || !parsed.success || parsed.data.spec.deploymentMode !== 'Shared') continue;
      // Refused with a condition by the InferenceService reconciler: never placed unauthorised.
      if (sharedStorageProblem(parsed.data) !== undefined) continue;
      const selection = selectRuntime(parsed.data, runtimes.namespaced, runtimes.cluster);
      if (selection.kind === 'selected' && poolKey(namespace, selection.runtime) === key)
        out.push(parsed.data);
    }
    return out;
  }

  #liveShards(namespace: string, runtime: ServingRuntime): Shard[] {
    return this.deps.caches.deployments
      .select(namespace, { [POOL_LABEL]: runtime.metadata.name, [POOL_KIND_LABEL]: runtime.kind })
      .flatMap((d) => {
        const index = Number(d.metadata?.labels?.[SHARD_LABEL]);
        return Number.isInteger(index) && index >= 0 ? [{ index, models: placedModels(d) }] : [];
      });
  }

  async #applyShard(
    namespace: string,
    runtime: ServingRuntime,
    shard: Shard,
    log: Logger,
  ): Promise<void> {
    const desired = buildPoolShard({
      namespace,
      runtime,
      shard: shard.index,
      models: shard.models,
      replicas: this.deps.pools.shardReplicas,
      config: this.deps.manifests,
    }) as KubeObject;
    const live = this.deps.caches.deployments.get(
      `${namespace}/${shardName(runtime, shard.index)}`,
    );
    if (live !== undefined && !needsApply(desired, live)) return;
    await applyObject(this.deps.client, RESOURCES.Deployment, desired, this.deps.fieldManager);
    log.info({ shard: desired.metadata?.name, models: shard.models.length }, 'Applied pool shard');
  }

  #record(
    namespace: string,
    runtime: ServingRuntime,
    shards: readonly Shard[],
    unplaced: ReadonlyMap<string, string>,
  ): void {
    for (const shard of shards) {
      for (const name of shard.models) {
        this.deps.store.set(`${namespace}/${name}`, {
          kind: 'placed',
          shardName: shardName(runtime, shard.index),
          selector: shardSelector(runtime, shard.index),
          runtime: { name: runtime.metadata.name, kind: runtime.kind },
        });
      }
    }
    for (const [name, reason] of unplaced) {
      this.deps.store.set(`${namespace}/${name}`, { kind: 'unplaced', reason });
    }
  }

  /** Forgets placements of InferenceServices that left this pool (deleted, moved, Dedicated). */
  #forgetLeavers(key: string, members: ReadonlySet<string>): void {
    const pool = parsePoolKey(key);
    for (const isvcKey of this.deps.store.keysOf(
      (v) =>
        v.kind === 'placed' &&
        pool !== undefined &&
        v.runtime.name === pool.name &&
        v.runtime.kind === pool.kind,
    )) {
      if (isvcKey.startsWith(`${pool?.namespace ?? ''}/`) && !members.has(isvcKey))
        this.deps.store.delete(isvcKey);
    }
  }

  /** Unloads, from each shard's servers, the models the agent pulled that no longer belong. */
  async #unloadStrays(
    namespace: string,
    runtime: ServingRuntime,
    shards: readonly Shard[],
    members: readonly InferenceService[],
    log: Logger,
  ): Promise<void> {
    const served = new Map(members.map((m) => [m.metadata.name, servedModelName(m)]));
    await Promise.all(
      shards.map(async (shard) => {
        const keep = new Set(shard.models.map((n) => served.get(n) ?? n));
        const selector = shardSelector(runtime, shard.index);
        const pods = this.deps.caches.pods
          .select(namespace, selector)
          .map(podView)
          .filter((p) => p.agentReady && p.agentUrl !== undefined);
        await Promise.all(pods.map((p) => this.#unloadStraysOn(p.agentUrl ?? '', keep, log)));
      }),
    );
  }

  async #unloadStraysOn(url: string, keep: ReadonlySet<string>, log: Logger): Promise<void> {
    const client = new RepositoryClient(url, { timeoutMs: this.deps.pools.agentTimeoutMs });
    try {
      const index = await client.agentIndex();
      for (const entry of index) {
        if (entry.storage_uri === undefined || keep.has(entry.name) || entry.state === 'UNLOADING')
          continue;
        log.info({ agent: url, model: entry.name }, 'Unloading a model that left the shard');
        await client.unload(entry.name);
      }
    } catch (error) {
      // Unreachable or failing: the next pass tries again; deletion never waits for it.
      log.debug({ agent: url, err: String(error) }, 'Could not clean up a shard server');
    }
  }
}

function toPoolModel(pools: PoolSettings): (isvc: InferenceService) => PoolModel {
  return (isvc) => {
    const reported = reportedMemoryBytes(isvc);
    return {
      name: isvc.metadata.name,
      servedName: servedModelName(isvc),
      memoryBytes: declaredMemoryBytes(isvc) ?? pools.defaultModelMemoryBytes,
      ...(reported === undefined ? {} : { reportedBytes: reported }),
      created: isvc.metadata.creationTimestamp ?? '',
    };
  };
}

function capacityOf(runtime: ServingRuntime, pools: PoolSettings): number {
  const declared = runtime.spec.capacity?.memory;
  return (
    (declared === undefined ? undefined : quantityToBytes(declared)) ?? pools.defaultCapacityBytes
  );
}
