import type { Logger } from 'pino';
import type { OperatorConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { Informer, type InformerEventType } from './controller/informer.js';
import { NamespacedInformers, type WatchCache } from './controller/namespaced-informers.js';
import type { KubeClient, KubeObject } from './kube/client.js';
import type { EventSink } from './kube/events.js';
import { RESOURCES, resourcePath, type ResourceType } from './kube/resources.js';
import { parseInferenceService } from './api/v1alpha1/index.js';
import {
  INFERENCE_SERVICE_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  POOL_KIND_LABEL,
  POOL_LABEL,
  SHARD_LABEL,
  placedModels,
  shardName,
} from './manifests/index.js';
import type { OperatorMetrics } from './observability/metrics.js';
import type { Cleanup } from './reconcilers/inference-service/finalizer.js';
import {
  InferenceServiceReconciler,
  type ReconcileStep,
} from './reconcilers/inference-service/reconciler.js';
import { ModelDriverReconciler } from './reconcilers/model-driver/reconciler.js';
import { ObservationStore } from './reconcilers/model-driver/replica-observation.js';
import { selectRuntime } from './reconcilers/inference-service/runtime-selection.js';
import { PlacementReconciler } from './reconcilers/placement/reconciler.js';
import { PlacementStore } from './reconcilers/placement/placement-store.js';
import { poolKey, runtimesFor } from './reconcilers/runtimes.js';

/** Collaborators of an {@link Operator}. */
export interface OperatorDeps {
  readonly config: OperatorConfig;
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: OperatorMetrics;
  /** Fault-injection hook for tests (see InferenceServiceReconcilerDeps.afterStep). */
  readonly afterStep?: (step: ReconcileStep, key: string) => void | Promise<void>;
  /** External cleanups run before an InferenceService may be deleted (adds the finalizer). */
  readonly cleanups?: readonly Cleanup[];
  /** Where Kubernetes Events go (an EventRecorder in main.ts); none when omitted. */
  readonly events?: EventSink;
}

/** Name of the InferenceService controller in metrics and logs. */
export const CONTROLLER_NAME = 'inferenceservice';
/** Name of the model driver (load/unload through the agents) in metrics and logs. */
export const MODEL_DRIVER_NAME = 'models';
/** Name of the Shared-mode placement controller (one key per namespace and runtime pool). */
export const PLACEMENT_NAME = 'placement';

/**
 * The running operator: informers feeding one keyed work queue, and the InferenceService
 * controller (one controller per Kind). Owned Deployments, Services and HPAs map back to their
 * owner's key; runtime changes enqueue the InferenceServices that could select them.
 */
export class Operator {
  readonly controller: Controller;
  /** Drives load/unload on every replica; keyed like the InferenceService controller. */
  readonly modelDriver: Controller;
  private readonly driver: ModelDriverReconciler;
  /** Places Shared-mode models on pool shards. */
  readonly placement: Controller;
  private readonly deployments: WatchCache;
  private readonly placements: PlacementStore;
  private readonly runtimeCaches: {
    servingRuntimes: WatchCache;
    clusterServingRuntimes: WatchCache;
  };
  private readonly informers: WatchCache[] = [];
  private readonly isvcs: WatchCache;
  private started = false;

  constructor(private readonly deps: OperatorDeps) {
    const { config, client, logger, metrics } = deps;
    const namespaces = config.watchNamespaces;
    const informer = (
      type: ResourceType,
      onEvent: (t: InformerEventType, o: KubeObject) => void,
      owned = false,
    ): WatchCache => {
      const one = (namespace: string | undefined): Informer =>
        new Informer(client, {
          path: resourcePath(type, { namespace }),
          labelSelector: owned ? `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` : undefined,
          // Children are not resynced on their own: resyncing their owners covers them.
          resyncMs: owned ? 0 : config.resyncMs,
          onEvent,
          logger: logger.child({ informer: type.kind }),
        });
      // All namespaces (or a cluster-scoped kind): one list-watch; else one per namespace.
      const inf =
        !type.namespaced || namespaces.length === 0
          ? one(undefined)
          : new NamespacedInformers(new Map(namespaces.map((ns) => [ns, one(ns)])));
      this.informers.push(inf);
      return inf;
    };
    this.isvcs = informer(RESOURCES.InferenceService, (_t, obj) => {
      this.enqueueObject(obj);
      this.enqueueDriver(obj.metadata?.namespace, obj.metadata?.name);
      this.enqueuePools(obj);
    });
    const runtimes = informer(RESOURCES.ServingRuntime, (t, obj) => {
      if (t !== 'resync') this.enqueueNamespace(obj.metadata?.namespace);
    });
    // A namespace-scoped install may not read ClusterServingRuntimes: an empty, synced cache.
    const clusterRuntimes = config.clusterRuntimes
      ? informer(RESOURCES.ClusterServingRuntime, (t) => {
          if (t !== 'resync') this.enqueueNamespace(undefined);
        })
      : new NamespacedInformers(new Map());
    this.runtimeCaches = { servingRuntimes: runtimes, clusterServingRuntimes: clusterRuntimes };
    const ownerHandler = (_t: InformerEventType, obj: KubeObject): void => {
      this.enqueueOwner(obj);
    };
    const deployments = informer(
      RESOURCES.Deployment,
      (t, obj) => {
        this.enqueueOwner(obj);
        if (t !== 'resync') this.enqueueShardMembers(obj);
      },
      true,
    );
    this.deployments = deployments;
    const services = informer(RESOURCES.Service, ownerHandler, true);
    const hpas = informer(RESOURCES.HorizontalPodAutoscaler, ownerHandler, true);
    // KEDA's CRD exists only where KEDA is installed: watched only with KEDA support configured.
    const scaledObjects =
      config.manifests.keda === undefined
        ? undefined
        : informer(RESOURCES.ScaledObject, ownerHandler, true);
    // Server pods belong to ReplicaSets; their InferenceService label maps them to the key.
    const pods = informer(
      RESOURCES.Pod,
      (t, obj) => {
        if (t === 'resync') return;
        this.enqueueDriver(
          obj.metadata?.namespace,
          obj.metadata?.labels?.[INFERENCE_SERVICE_LABEL],
        );
        this.enqueuePodShard(obj);
      },
      true,
    );
    const observations = new ObservationStore();
    const placements = new PlacementStore();
    this.placements = placements;
    // A new place (or none) changes the Service, the status and which pods get the model.
    placements.onChange((key) => {
      this.controller.enqueue(key);
      this.modelDriver.enqueue(key);
    });
    const placementReconciler = new PlacementReconciler({
      client,
      caches: {
        inferenceServices: this.isvcs,
        servingRuntimes: runtimes,
        clusterServingRuntimes: clusterRuntimes,
        deployments,
        pods,
      },
      store: placements,
      fieldManager: config.fieldManager,
      manifests: config.manifests,
      pools: config.pools,
    });
    this.placement = new Controller({
      name: PLACEMENT_NAME,
      workers: 1,
      reconcile: (key, log) => placementReconciler.reconcile(key, log),
      logger: logger.child({ controller: PLACEMENT_NAME }),
      metrics,
    });
    // A changed observation is a change of the world: recompute (and maybe write) status.
    observations.onChange((key) => {
      this.controller.enqueue(key);
    });
    this.driver = new ModelDriverReconciler({
      caches: { inferenceServices: this.isvcs, pods },
      store: observations,
      requeue: (key) => {
        this.modelDriver.enqueue(key);
      },
      timings: config.models,
      placements: (key) => placements.get(key),
    });
    this.modelDriver = new Controller({
      name: MODEL_DRIVER_NAME,
      workers: config.workers,
      reconcile: (key, log) => this.driver.reconcile(key, log),
      logger: logger.child({ controller: MODEL_DRIVER_NAME }),
      metrics,
    });
    const reconciler = new InferenceServiceReconciler({
      client,
      caches: {
        inferenceServices: this.isvcs,
        servingRuntimes: runtimes,
        clusterServingRuntimes: clusterRuntimes,
        deployments,
        services,
        hpas,
        ...(scaledObjects === undefined ? {} : { scaledObjects }),
      },
      fieldManager: config.fieldManager,
      manifests: config.manifests,
      now: () => new Date(),
      afterStep: deps.afterStep,
      cleanups: deps.cleanups,
      observations: (key) => observations.get(key),
      placements: (key) => placements.get(key),
      events: deps.events,
      defaultModelMemoryBytes: config.pools.defaultModelMemoryBytes,
    });
    this.controller = new Controller({
      name: CONTROLLER_NAME,
      workers: config.workers,
      reconcile: (key, log) => reconciler.reconcile(key, log),
      logger,
      metrics,
    });
  }

  /** Whether the InferenceService cache holds `namespace/name` (for diagnostics and tests). */
  hasCached(key: string): boolean {
    return this.isvcs.get(key) !== undefined;
  }

  /** Whether every informer has listed once (the /readyz check of a leader). */
  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  /** Starts the informers, waits for their first list, then starts the workers. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const inf of this.informers) inf.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    this.controller.start();
    this.modelDriver.start();
    this.placement.start();
    this.deps.logger.info({ workers: this.deps.config.workers }, 'Started controller');
  }

  /** Stops the workers (letting in-flight reconciles finish) and the informers. */
  async stop(): Promise<void> {
    this.driver.stop();
    await Promise.all([this.controller.stop(), this.modelDriver.stop(), this.placement.stop()]);
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private enqueueObject(obj: KubeObject): void {
    const { namespace, name } = obj.metadata ?? {};
    if (name !== undefined) this.controller.enqueue(`${namespace ?? ''}/${name}`);
  }

  /**
   * A Shared InferenceService changes its pool; so does one that was placed and is no longer
   * Shared (or is gone). Dedicated ones never placed cost nothing here, so an event stays O(1).
   */
  private enqueuePools(obj: KubeObject): void {
    const namespace = obj.metadata?.namespace ?? '';
    const previous = this.placements.get(`${namespace}/${obj.metadata?.name ?? ''}`);
    if (previous?.kind === 'placed') {
      const { kind, name } = previous.runtime;
      this.placement.enqueue(poolKey(namespace, { kind, metadata: { name } }));
    }
    const { result: parsed, supported } = parseInferenceService(obj);
    if (!supported || !parsed.success || parsed.data.spec.deploymentMode !== 'Shared') return;
    const runtimes = runtimesFor(this.runtimeCaches, namespace, this.deps.logger);
    const selection = selectRuntime(parsed.data, runtimes.namespaced, runtimes.cluster);
    if (selection.kind === 'selected')
      this.placement.enqueue(poolKey(namespace, selection.runtime));
  }

  /** Enqueues the pool of a shard Deployment; false if it is not one. */
  private enqueueShardPool(shard: KubeObject): boolean {
    const runtime = shard.metadata?.labels?.[POOL_LABEL];
    const kind = shard.metadata?.labels?.[POOL_KIND_LABEL];
    if (runtime === undefined || kind === undefined) return false;
    const namespace = shard.metadata?.namespace ?? '';
    this.placement.enqueue(poolKey(namespace, { kind, metadata: { name: runtime } }));
    return true;
  }

  /** A shard changed: its pool, and the InferenceServices placed on it (status, driver). */
  private enqueueShardMembers(shard: KubeObject): void {
    if (!this.enqueueShardPool(shard)) return;
    const namespace = shard.metadata?.namespace ?? '';
    for (const name of placedModels(shard)) {
      this.controller.enqueue(`${namespace}/${name}`);
      this.enqueueDriver(namespace, name);
    }
  }

  /** A pool pod changed: drive the models of its shard again. */
  private enqueuePodShard(pod: KubeObject): void {
    const runtime = pod.metadata?.labels?.[POOL_LABEL];
    const shard = Number(pod.metadata?.labels?.[SHARD_LABEL]);
    if (runtime === undefined || !Number.isInteger(shard)) return;
    const namespace = pod.metadata?.namespace ?? '';
    const live = this.deployments.get(
      `${namespace}/${shardName({ metadata: { name: runtime } }, shard)}`,
    );
    if (live !== undefined) this.enqueueShardMembers(live);
  }

  private enqueueDriver(namespace: string | undefined, name: string | undefined): void {
    if (name !== undefined) this.modelDriver.enqueue(`${namespace ?? ''}/${name}`);
  }

  /** A runtime changed: every InferenceService that could select it (its namespace, or all). */
  private enqueueNamespace(namespace: string | undefined): void {
    const isvcs = namespace === undefined ? this.isvcs.list() : this.isvcs.select(namespace);
    for (const isvc of isvcs) this.enqueueObject(isvc);
  }

  private enqueueOwner(obj: KubeObject): void {
    const owner = (obj.metadata?.ownerReferences ?? []).find(
      (r) =>
        r.controller === true &&
        r.kind === RESOURCES.InferenceService.kind &&
        r.apiVersion === RESOURCES.InferenceService.apiVersion,
    );
    if (owner !== undefined)
      this.controller.enqueue(`${obj.metadata?.namespace ?? ''}/${owner.name}`);
  }
}
