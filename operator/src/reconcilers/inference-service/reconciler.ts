import type { Logger } from 'pino';
import {
  kedaNotConfigured,
  parseInferenceService,
  type InferenceService,
  type InferenceServiceStatus,
  type Unsupported,
} from '../../api/v1alpha1/index.js';
import { DONE, type ReconcileResult } from '../../controller/result.js';
import type { KubeClient, KubeObject } from '../../kube/client.js';
import { errorMessage, isConflict, isNotFound } from '../../kube/errors.js';
import { RESOURCES, resourcePath, type ResourceType } from '../../kube/resources.js';
import { applyObject, needsApply, ownsField } from '../../kube/ssa-apply.js';
import { applyStatus } from '../../kube/status.js';
import type { EventSink, EventSpec } from '../../kube/events.js';
import {
  buildAll,
  buildService,
  type BuildInput,
  predictorName,
  selectorLabels,
  serviceUrl,
  type ManifestConfig,
} from '../../manifests/index.js';
import { runtimesFor, type ObjectCache } from '../runtimes.js';
import {
  STORAGE_SECRET_IN_SHARED,
  effectiveStorageUri,
  sharedStorageProblem,
} from '../storage-spec.js';
import { selectRuntime } from './runtime-selection.js';
import { addFinalizer, finalize, hasFinalizer, type Cleanup } from './finalizer.js';
import { CONDITION, computeStatus, statusUpToDate, type PredictorState } from './status.js';
import type { Observations } from '../model-driver/replica-observation.js';
import type { PlacementResult } from '../placement/placement-store.js';
import { declaredMemoryBytes, memoryExceededNote } from '../model-memory.js';

export type { ObjectCache } from '../runtimes.js';

/** The caches the reconciler reads instead of the API server. */
export interface ReconcilerCaches {
  readonly inferenceServices: ObjectCache;
  readonly servingRuntimes: ObjectCache;
  readonly clusterServingRuntimes: ObjectCache;
  readonly deployments: ObjectCache;
  readonly services: ObjectCache;
  readonly hpas: ObjectCache;
  /** KEDA ScaledObjects; absent when the operator runs without KEDA support (no CRD to watch). */
  readonly scaledObjects?: ObjectCache;
}

/** The write steps of one reconcile, in order; a test hook can stop the process after each. */
export type ReconcileStep = 'Deployment' | 'Service' | 'HorizontalPodAutoscaler' | 'status';

/** Collaborators of the InferenceService reconciler. */
export interface InferenceServiceReconcilerDeps {
  readonly client: KubeClient;
  readonly caches: ReconcilerCaches;
  readonly fieldManager: string;
  readonly manifests: ManifestConfig;
  readonly now: () => Date;
  /** Called after each write step; fault-injection tests throw here to simulate a crash. */
  readonly afterStep?: (step: ReconcileStep, key: string) => void | Promise<void>;
  /** External cleanups; the finalizer is added only when there is at least one. */
  readonly cleanups?: readonly Cleanup[];
  /** What the model driver last saw on each replica (the servers' index, through the agents). */
  readonly observations?: (key: string) => Observations | undefined;
  /** Where the placement reconciler put a Shared-mode InferenceService. */
  readonly placements?: (key: string) => PlacementResult | undefined;
  /** Kubernetes Events on the InferenceService, sent on transitions only. */
  readonly events?: EventSink;
  /** What a Shared-mode model that declares no memory counts as (the operator's default). */
  readonly defaultModelMemoryBytes?: number;
}

function selectorString(name: string): string {
  return Object.entries(selectorLabels(name))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function controlledBy(obj: KubeObject | undefined, uid: string | undefined): boolean {
  return (obj?.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid);
}

/**
 * Why a spec is invalid. What Tessera cannot do explains the schema's complaint (e.g. no model
 * beside custom containers), so it alone is shown when there is any.
 */
function invalidMessage(
  unsupported: readonly Unsupported[],
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): string {
  return (
    unsupported.length > 0
      ? unsupported.map((u) => u.message)
      : issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`)
  ).join('; ');
}

/** A child could not be applied; its kind goes into the condition reason. */
class ApplyError extends Error {
  constructor(
    readonly kind: string,
    cause: unknown,
  ) {
    super(`applying the ${kind} failed: ${errorMessage(cause)}`, { cause });
    this.name = 'ApplyError';
  }
}

/** Applies `desired`, wrapping any failure other than a conflict in an {@link ApplyError}. */
async function applyOrExplain(
  client: KubeClient,
  type: ResourceType,
  desired: KubeObject,
  fieldManager: string,
): Promise<KubeObject> {
  try {
    return await applyObject(client, type, desired, fieldManager);
  } catch (err) {
    throw isConflict(err) ? err : new ApplyError(type.kind, err);
  }
}

/**
 * Reconciles one InferenceService: read (from caches) → select runtime → build → apply the
 * children that differ → write status if it changed. Level-triggered and idempotent: it never
 * looks at which event caused it, and re-running it after a crash at any step converges.
 */
export class InferenceServiceReconciler {
  constructor(private readonly deps: InferenceServiceReconcilerDeps) {}

  /** Reconciles `namespace/name`. */
  async reconcile(key: string, log: Logger): Promise<ReconcileResult> {
    const raw = this.deps.caches.inferenceServices.get(key);
    // Gone: the garbage collector removes the children through their owner references.
    if (raw === undefined) return DONE;
    if (raw.metadata?.deletionTimestamp !== undefined) return this.finalizeDeleted(raw, log);
    const cleanups = this.deps.cleanups ?? [];
    if (cleanups.length > 0 && !hasFinalizer(raw)) {
      try {
        await addFinalizer(this.deps.client, raw);
      } catch (err) {
        return { kind: 'retry', error: err };
      }
      return DONE; // the update event re-queues this key with the fresh object
    }
    // KServe v1beta1 shapes (legacy predictor.<framework>, scale metric names) become the
    // canonical one; what Tessera cannot honour is listed, never dropped (kserve-normalize.ts).
    const { result: parsed, unsupported } = parseInferenceService(raw);
    if (!parsed.success)
      return this.invalidSpec(
        raw,
        invalidMessage(unsupported, parsed.error.issues),
        log,
        unsupported[0]?.reason,
      );
    const isvc = parsed.data;
    const notHere = [
      ...unsupported,
      ...kedaNotConfigured(isvc.metadata.annotations, this.deps.manifests.keda !== undefined),
    ];
    if (notHere.length > 0) return this.reportUnsupported(isvc, key, notHere, log);
    try {
      return await this.reconcileParsed(isvc, key, log);
    } catch (err) {
      if (isConflict(err)) {
        // Someone changed the object since our cache saw it: retry on fresh state (no user-facing error).
        log.debug({ err: errorMessage(err) }, 'Conflict, retrying with fresh state');
      } else if (err instanceof ApplyError) {
        await this.reportApplyFailure(isvc, key, err, log);
      }
      return { kind: 'retry', error: err };
    }
  }

  private async reconcileParsed(
    isvc: InferenceService,
    key: string,
    log: Logger,
  ): Promise<ReconcileResult> {
    const ns = isvc.metadata.namespace ?? 'default';
    const { caches } = this.deps;
    const { namespaced, cluster } = runtimesFor(caches, ns, log);
    const selection = selectRuntime(isvc, namespaced, cluster);
    if (selection.kind === 'none') {
      this.warnOnTransition(isvc, selection.reason, selection.message, 'SelectRuntime');
      await this.writeStatus(
        isvc,
        key,
        {
          predictor: {
            kind: 'blocked',
            reason: selection.reason,
            message: selection.message,
            transitionStatus: 'InvalidSpec',
          },
          runtime: undefined,
          url: undefined,
        },
        log,
      );
      return DONE; // a runtime appearing later enqueues this key (runtime watches)
    }
    if (isvc.spec.deploymentMode === 'Shared') {
      return this.reconcileShared(isvc, selection.runtime, key, log);
    }
    const input = { isvc, runtime: selection.runtime, config: this.deps.manifests };
    const desired = buildAll(input);
    const deployment = await this.applyDeployment(desired.deployment, isvc, key, log);
    await this.applyChild(RESOURCES.Service, desired.service, caches.services, key, log);
    await this.deps.afterStep?.('Service', key);
    await this.reconcileAutoscalers(desired, isvc, key, log);
    await this.deps.afterStep?.('HorizontalPodAutoscaler', key);
    await this.writeStatus(
      isvc,
      key,
      {
        predictor: {
          kind: 'deployed',
          deployment,
          replicas: this.deps.observations?.(key),
          storageUri: effectiveStorageUri(isvc),
        },
        runtime: { name: selection.runtime.metadata.name, kind: selection.runtime.kind },
        url: serviceUrl(input),
      },
      log,
    );
    const { runtimeName, runtimeKind } = isvc.status ?? {};
    if (runtimeName !== selection.runtime.metadata.name || runtimeKind !== selection.runtime.kind)
      this.emit(isvc, {
        type: 'Normal',
        reason: 'RuntimeSelected',
        action: 'SelectRuntime',
        note: `Selected ${selection.runtime.kind} ${selection.runtime.metadata.name} for model format ${isvc.spec.predictor.model.modelFormat.name}`,
      });
    return DONE;
  }

  /**
   * Shared mode: the model lives on a pool shard chosen by the placement reconciler; this
   * InferenceService owns only its Service (selecting that shard) and its status.
   */
  private async reconcileShared(
    isvc: InferenceService,
    runtime: BuildInput['runtime'],
    key: string,
    log: Logger,
  ): Promise<ReconcileResult> {
    const runtimeRef = { name: runtime.metadata.name, kind: runtime.kind };
    const storageProblem = sharedStorageProblem(isvc);
    if (storageProblem !== undefined) {
      // The placement reconciler skips it too: nothing is placed that would load unauthorised.
      const ready = isvc.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.reason !== STORAGE_SECRET_IN_SHARED)
        this.emit(isvc, {
          type: 'Warning',
          reason: STORAGE_SECRET_IN_SHARED,
          action: 'Validate',
          note: storageProblem,
        });
      await this.writeStatus(
        isvc,
        key,
        {
          predictor: {
            kind: 'blocked',
            reason: STORAGE_SECRET_IN_SHARED,
            message: storageProblem,
            transitionStatus: 'InvalidSpec',
          },
          runtime: runtimeRef,
          url: undefined,
        },
        log,
      );
      return DONE; // a spec change enqueues this key
    }
    const placement = this.deps.placements?.(key);
    if (placement?.kind !== 'placed') {
      const waiting = `waiting for a place on the pool of ${runtime.kind} ${runtime.metadata.name}`;
      await this.writeStatus(
        isvc,
        key,
        {
          predictor: {
            kind: 'blocked',
            reason: placement === undefined ? 'Placing' : 'NotPlaced',
            message: placement === undefined ? waiting : placement.reason,
            transitionStatus: 'InProgress',
          },
          runtime: runtimeRef,
          url: undefined,
        },
        log,
      );
      return DONE; // a placement change enqueues this key
    }
    const input = { isvc, runtime, config: this.deps.manifests };
    await this.applyChild(
      RESOURCES.Service,
      buildService(input, placement.selector),
      this.deps.caches.services,
      key,
      log,
    );
    await this.reconcileAutoscalers({ hpa: undefined, scaledObject: undefined }, isvc, key, log);
    const ns = isvc.metadata.namespace ?? 'default';
    await this.writeStatus(
      isvc,
      key,
      {
        predictor: {
          kind: 'deployed',
          deployment: this.deps.caches.deployments.get(`${ns}/${placement.shardName}`),
          replicas: this.deps.observations?.(key),
          storageUri: effectiveStorageUri(isvc),
        },
        runtime: runtimeRef,
        url: serviceUrl(input),
      },
      log,
    );
    return DONE;
  }

  private async applyChild(
    type: ResourceType,
    desired: KubeObject,
    cache: ObjectCache,
    key: string,
    log: Logger,
  ): Promise<KubeObject> {
    const childKey = `${desired.metadata?.namespace ?? ''}/${desired.metadata?.name ?? ''}`;
    const live = cache.get(childKey);
    if (!needsApply(desired, live) && live !== undefined) return live;
    const applied = await applyOrExplain(this.deps.client, type, desired, this.deps.fieldManager);
    log.info({ kind: type.kind, child: desired.metadata?.name, key }, `Applied ${type.kind}`);
    if (live === undefined) this.emitCreated(key, type.kind, desired);
    return applied;
  }

  private async applyDeployment(
    desired: KubeObject,
    isvc: InferenceService,
    key: string,
    log: Logger,
  ): Promise<KubeObject> {
    const name = `${isvc.metadata.namespace ?? 'default'}/${predictorName(isvc.metadata.name)}`;
    const live = this.deps.caches.deployments.get(name);
    const spec = desired['spec'] as { replicas?: number };
    const liveReplicas = (live?.['spec'] as { replicas?: number } | undefined)?.replicas;
    let mustApply = needsApply(desired, live);
    if (
      spec.replicas === undefined &&
      ownsField(live, this.deps.fieldManager, ['f:spec', 'f:replicas'])
    ) {
      // Autoscaling was just turned on. Dropping replicas from our apply while we own it would
      // reset it to the default of 1, so first hand the field to a separate manager at its current
      // value; the HPA then takes it over (SSA docs, "Transferring ownership").
      await applyObject(
        this.deps.client,
        RESOURCES.Deployment,
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: desired.metadata?.name, namespace: desired.metadata?.namespace },
          spec: { replicas: liveReplicas ?? 1 },
        },
        `${this.deps.fieldManager}-replicas-handover`,
      );
      mustApply = true;
    }
    let result = live;
    if (mustApply || live === undefined) {
      result = await applyOrExplain(
        this.deps.client,
        RESOURCES.Deployment,
        desired,
        this.deps.fieldManager,
      );
      log.info({ kind: 'Deployment', child: desired.metadata?.name }, 'Applied Deployment');
      if (live === undefined) this.emitCreated(key, 'Deployment', desired);
    }
    await this.deps.afterStep?.('Deployment', key);
    return result as KubeObject;
  }

  /** The HPA and the KEDA ScaledObject: at most one is wanted, the other is deleted if ours. */
  private async reconcileAutoscalers(
    desired: {
      readonly hpa: KubeObject | undefined;
      readonly scaledObject: KubeObject | undefined;
    },
    isvc: InferenceService,
    key: string,
    log: Logger,
  ): Promise<void> {
    await this.reconcileOptionalChild(
      RESOURCES.HorizontalPodAutoscaler,
      desired.hpa,
      this.deps.caches.hpas,
      { isvc, key, log },
    );
    // Without KEDA support there is no ScaledObject cache, and none of ours can exist.
    const scaledObjects = this.deps.caches.scaledObjects;
    if (scaledObjects !== undefined)
      await this.reconcileOptionalChild(
        RESOURCES.ScaledObject,
        desired.scaledObject,
        scaledObjects,
        { isvc, key, log },
      );
  }

  /** Applies `desired`, or deletes the live child of that type when one is ours and none is wanted. */
  private async reconcileOptionalChild(
    type: ResourceType,
    desired: KubeObject | undefined,
    cache: ObjectCache,
    { isvc, key, log }: { isvc: InferenceService; key: string; log: Logger },
  ): Promise<void> {
    if (desired !== undefined) {
      await this.applyChild(type, desired, cache, key, log);
      return;
    }
    const ns = isvc.metadata.namespace ?? 'default';
    const name = predictorName(isvc.metadata.name);
    const live = cache.get(`${ns}/${name}`);
    if (live === undefined || !controlledBy(live, isvc.metadata.uid)) return;
    try {
      await this.deps.client.request('DELETE', resourcePath(type, { namespace: ns, name }));
      log.info(
        { kind: type.kind, child: name },
        `Deleted ${type.kind}, replicas follow the spec again`,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err; // already gone: deletion is done
    }
  }

  private async writeStatus(
    isvc: InferenceService,
    key: string,
    parts: {
      predictor: PredictorState;
      runtime: { name: string; kind: 'ServingRuntime' | 'ClusterServingRuntime' } | undefined;
      url: string | undefined;
    },
    log: Logger,
  ): Promise<void> {
    const desired = computeStatus({
      generation: isvc.metadata.generation ?? 0,
      previous: isvc.status,
      now: this.deps
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      predictor: parts.predictor,
      url: parts.url,
      selector: selectorString(isvc.metadata.name),
      deploymentMode: isvc.spec.deploymentMode,
      runtime: parts.runtime,
      storageUri: isvc.spec.predictor.model.storageUri,
    });
    if (statusUpToDate(desired, isvc.status)) return;
    await applyStatus(
      this.deps.client,
      RESOURCES.InferenceService,
      {
        apiVersion: isvc.apiVersion,
        kind: isvc.kind,
        name: isvc.metadata.name,
        namespace: isvc.metadata.namespace,
        resourceVersion: isvc.metadata.resourceVersion,
      },
      desired,
      this.deps.fieldManager,
    );
    const ready = desired.conditions?.find((c) => c.type === 'Ready');
    log.info({ ready: ready?.status, reason: ready?.reason }, 'Updated InferenceService status');
    this.noteMemory(isvc, desired, log);
    await this.deps.afterStep?.('status', key);
  }

  /** Says so (Event and log) when the servers' reported memory has just exceeded the declared. */
  private noteMemory(isvc: InferenceService, desired: InferenceServiceStatus, log: Logger): void {
    const declared =
      declaredMemoryBytes(isvc) ??
      (isvc.spec.deploymentMode === 'Shared' ? this.deps.defaultModelMemoryBytes : undefined);
    const note = memoryExceededNote(
      declared,
      isvc.status?.modelStatus?.reportedMemory,
      desired.modelStatus?.reportedMemory,
    );
    if (note === undefined) return;
    log.warn({ reportedBytes: desired.modelStatus?.reportedMemory?.bytes, declared }, note);
    this.emit(isvc, {
      type: 'Warning',
      reason: 'ReportedMemoryExceedsDeclared',
      action: 'Observe',
      note,
    });
  }

  /**
   * Makes a failing apply visible in the status (the API server's message says why, e.g. an
   * invalid resource quantity), instead of only in the operator's logs. Written only when it
   * changed, so a persistently failing object does not cause a write per retry.
   */
  private async reportApplyFailure(
    isvc: InferenceService,
    key: string,
    err: ApplyError,
    log: Logger,
  ): Promise<void> {
    log.warn({ err: err.message }, `Failed to apply ${err.kind}`);
    // Compared with PredictorReady, which carries the message as written (Ready prefixes it), so
    // a persistently failing apply emits one Event, not one per retry.
    this.warnOnTransition(isvc, `${err.kind}ApplyFailed`, err.message, 'Apply');
    try {
      await this.writeStatus(
        isvc,
        key,
        {
          predictor: {
            kind: 'blocked',
            reason: `${err.kind}ApplyFailed`,
            message: err.message,
            transitionStatus: 'InProgress',
          },
          runtime: undefined,
          url: undefined,
        },
        log,
      );
    } catch (statusErr) {
      log.debug({ err: errorMessage(statusErr) }, 'Could not record the apply failure in status');
    }
  }

  private emit(
    isvc: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'> | undefined,
    event: EventSpec,
  ): void {
    const meta = isvc?.metadata;
    if (meta?.name === undefined) return;
    this.deps.events?.emit(
      {
        apiVersion: isvc?.apiVersion ?? RESOURCES.InferenceService.apiVersion,
        kind: isvc?.kind ?? RESOURCES.InferenceService.kind,
        name: meta.name,
        namespace: meta.namespace ?? 'default',
        uid: meta.uid,
      },
      event,
    );
  }

  /** A child that was not in the cache was applied: it was created (the transition users look for). */
  private emitCreated(key: string, kind: string, child: KubeObject): void {
    this.emit(this.deps.caches.inferenceServices.get(key), {
      type: 'Normal',
      reason: 'SuccessfulCreate',
      action: 'Create',
      note: `Created ${kind} ${child.metadata?.name ?? ''}`,
    });
  }

  private async finalizeDeleted(raw: KubeObject, log: Logger): Promise<ReconcileResult> {
    if (!hasFinalizer(raw)) return DONE;
    try {
      await finalize(this.deps.client, raw, this.deps.cleanups ?? [], log);
      return DONE;
    } catch (err) {
      return { kind: 'retry', error: err };
    }
  }

  /**
   * The spec asks for KServe features Tessera cannot honour: nothing is deployed, and the
   * status and a Warning Event (on transitions only) say what and why, in the user's terms.
   * Children of an earlier, supported generation are left as they are.
   */
  private async reportUnsupported(
    isvc: InferenceService,
    key: string,
    unsupported: readonly Unsupported[],
    log: Logger,
  ): Promise<ReconcileResult> {
    const reason = unsupported[0]?.reason ?? 'FieldNotSupported';
    const message = unsupported.map((u) => u.message).join('; ');
    this.warnOnTransition(isvc, reason, message, 'Validate');
    await this.writeStatus(
      isvc,
      key,
      {
        predictor: { kind: 'blocked', reason, message, transitionStatus: 'InvalidSpec' },
        runtime: undefined,
        url: undefined,
      },
      log,
    );
    log.warn({ reason, fields: unsupported.map((u) => u.field) }, 'Unsupported KServe features');
    return DONE; // a spec change enqueues this key
  }

  /**
   * A Warning Event, sent only when PredictorReady is about to change to it (Ready carries the
   * same reason, but its message is prefixed with the failing condition's type).
   */
  private warnOnTransition(
    isvc: InferenceService,
    reason: string,
    message: string,
    action: string,
  ): void {
    const current = isvc.status?.conditions?.find((c) => c.type === CONDITION.predictorReady);
    if (current?.reason !== reason || current.message !== message)
      this.emit(isvc, { type: 'Warning', reason, action, note: message });
  }

  private async invalidSpec(
    raw: KubeObject,
    message: string,
    log: Logger,
    reason = 'InvalidSpec',
  ): Promise<ReconcileResult> {
    const meta = raw.metadata ?? {};
    const previous = raw['status'] as InferenceServiceStatus | undefined;
    const status = computeStatus({
      generation: meta.generation ?? 0,
      previous,
      now: this.deps
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      predictor: {
        kind: 'blocked',
        reason,
        message,
        transitionStatus: 'InvalidSpec',
      },
      url: undefined,
      selector: selectorString(meta.name ?? ''),
      deploymentMode: '',
      runtime: undefined,
    });
    if (!statusUpToDate(status, previous)) {
      this.emit(raw, { type: 'Warning', reason, action: 'Validate', note: message });
      try {
        await applyStatus(
          this.deps.client,
          RESOURCES.InferenceService,
          {
            apiVersion: raw.apiVersion ?? '',
            kind: raw.kind ?? '',
            name: meta.name ?? '',
            namespace: meta.namespace,
            resourceVersion: meta.resourceVersion,
          },
          status,
          this.deps.fieldManager,
        );
      } catch (err) {
        return { kind: 'retry', error: err };
      }
    }
    log.warn({ err: message }, 'InferenceService spec is invalid');
    return { kind: 'terminal', error: new Error(`invalid spec: ${message}`) };
  }
}
