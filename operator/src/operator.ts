import type { Logger } from 'pino';
import type { OperatorConfig } from './config.js';
import { Controller } from './controller/controller.js';
import { Informer, type InformerEventType } from './controller/informer.js';
import type { KubeClient, KubeObject } from './kube/client.js';
import type { EventSink } from './kube/events.js';
import { RESOURCES, resourcePath, type ResourceType } from './kube/resources.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './manifests/index.js';
import type { OperatorMetrics } from './observability/metrics.js';
import type { Cleanup } from './reconcilers/inference-service/finalizer.js';
import {
  InferenceServiceReconciler,
  type ReconcileStep,
} from './reconcilers/inference-service/reconciler.js';

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

/**
 * The running operator: informers feeding one keyed work queue, and the InferenceService
 * controller (one controller per Kind). Owned Deployments, Services and HPAs map back to their
 * owner's key; runtime changes enqueue the InferenceServices that could select them.
 */
export class Operator {
  readonly controller: Controller;
  private readonly informers: Informer[] = [];
  private readonly isvcs: Informer;
  private started = false;

  constructor(private readonly deps: OperatorDeps) {
    const { config, client, logger, metrics } = deps;
    const ns = config.watchNamespace === '' ? undefined : config.watchNamespace;
    const informer = (
      type: ResourceType,
      onEvent: (t: InformerEventType, o: KubeObject) => void,
      owned = false,
    ): Informer => {
      const inf = new Informer(client, {
        path: resourcePath(type, { namespace: type.namespaced ? ns : undefined }),
        labelSelector: owned ? `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` : undefined,
        // Children are not resynced on their own: resyncing their owners covers them.
        resyncMs: owned ? 0 : config.resyncMs,
        onEvent,
        logger: logger.child({ informer: type.kind }),
      });
      this.informers.push(inf);
      return inf;
    };
    this.isvcs = informer(RESOURCES.InferenceService, (_t, obj) => {
      this.enqueueObject(obj);
    });
    const runtimes = informer(RESOURCES.ServingRuntime, (t, obj) => {
      if (t !== 'resync') this.enqueueNamespace(obj.metadata?.namespace);
    });
    const clusterRuntimes = informer(RESOURCES.ClusterServingRuntime, (t) => {
      if (t !== 'resync') this.enqueueNamespace(undefined);
    });
    const ownerHandler = (_t: InformerEventType, obj: KubeObject): void => {
      this.enqueueOwner(obj);
    };
    const deployments = informer(RESOURCES.Deployment, ownerHandler, true);
    const services = informer(RESOURCES.Service, ownerHandler, true);
    const hpas = informer(RESOURCES.HorizontalPodAutoscaler, ownerHandler, true);
    const reconciler = new InferenceServiceReconciler({
      client,
      caches: {
        inferenceServices: this.isvcs,
        servingRuntimes: runtimes,
        clusterServingRuntimes: clusterRuntimes,
        deployments,
        services,
        hpas,
      },
      fieldManager: config.fieldManager,
      manifests: config.manifests,
      now: () => new Date(),
      afterStep: deps.afterStep,
      cleanups: deps.cleanups,
      events: deps.events,
    });
    this.controller = new Controller({
      name: CONTROLLER_NAME,
      workers: config.workers,
      reconcile: (key, log) => reconciler.reconcile(key, log),
      logger,
      metrics,
    });
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
    this.deps.logger.info({ workers: this.deps.config.workers }, 'Started controller');
  }

  /** Stops the workers (letting in-flight reconciles finish) and the informers. */
  async stop(): Promise<void> {
    await this.controller.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private enqueueObject(obj: KubeObject): void {
    const { namespace, name } = obj.metadata ?? {};
    if (name !== undefined) this.controller.enqueue(`${namespace ?? ''}/${name}`);
  }

  private enqueueNamespace(namespace: string | undefined): void {
    for (const isvc of this.isvcs.list()) {
      if (namespace === undefined || isvc.metadata?.namespace === namespace)
        this.enqueueObject(isvc);
    }
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
