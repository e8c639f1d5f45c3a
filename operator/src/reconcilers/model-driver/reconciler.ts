/**
 * The model driver: for every replica of an InferenceService it compares the desired model with
 * what the replica's agent reports, and asks the agent to load or unload. It writes nothing to
 * the API server; its observations go to the {@link ObservationStore}, from which the
 * InferenceService reconciler computes status (ModelsReady from the servers' index, not from pod
 * readiness).
 *
 * Level-triggered: each reconcile reads the agents afresh, so a restarted pod (empty index), a
 * restarted agent or a restarted operator converge the same way. Loads run in the background
 * (a pull can take minutes) and re-queue the key when they settle.
 */
import type { Logger } from 'pino';
import {
  RepositoryApiError,
  RepositoryClient,
  type AgentIndexEntry,
  type AgentLoadParameters,
} from '@tessera/contract';
import { parseInferenceService, type InferenceService } from '../../api/v1alpha1/index.js';
import { DONE, type ReconcileResult } from '../../controller/result.js';
import { selectorLabels, servedModelName } from '../../manifests/index.js';
import type { PlacementResult } from '../placement/placement-store.js';
import type { ObjectCache } from '../runtimes.js';
import { effectiveStorageUri } from '../storage-spec.js';
import type { ModelDriverTimings } from '../../config.js';
import { LoadTracker } from './load-tracker.js';
import { podView, type PodView } from './pod-view.js';
import { planReplica, type DesiredModel, type ReplicaAction } from './replica-plan.js';
import type { ObservationStore, ReplicaObservation } from './replica-observation.js';

export interface ModelDriverDeps {
  readonly caches: { readonly inferenceServices: ObjectCache; readonly pods: ObjectCache };
  readonly store: ObservationStore;
  /** Re-queues a key of this driver (when a background call settles). */
  readonly requeue: (key: string) => void;
  readonly timings: ModelDriverTimings;
  readonly now?: () => number;
  /** Where the placement reconciler put a Shared-mode InferenceService. */
  readonly placements?: (key: string) => PlacementResult | undefined;
  /** Builds the client of one agent; tests may wrap it. */
  readonly agentClient?: (url: string) => RepositoryClient;
}

export class ModelDriverReconciler {
  readonly #trackers = new Map<string, LoadTracker>();
  readonly #now: () => number;
  readonly #client: (url: string) => RepositoryClient;

  constructor(private readonly deps: ModelDriverDeps) {
    this.#now = deps.now ?? Date.now;
    this.#client =
      deps.agentClient ??
      ((url) => new RepositoryClient(url, { timeoutMs: deps.timings.indexTimeoutMs }));
  }

  async reconcile(key: string, log: Logger): Promise<ReconcileResult> {
    const raw = this.deps.caches.inferenceServices.get(key);
    const parsed = raw === undefined ? undefined : parseInferenceService(raw);
    if (
      raw?.metadata?.deletionTimestamp !== undefined ||
      parsed?.supported !== true ||
      !parsed.result.success
    ) {
      // Gone, going, invalid or unsupported (the InferenceService reconciler reports why): stop.
      this.#forget(key);
      return DONE;
    }
    const isvc = parsed.result.data;
    const target = this.#target(isvc, key);
    if (target === undefined) {
      // Shared, not placed yet: nothing to drive until the placement store says where.
      this.deps.store.set(key, []);
      return DONE;
    }
    const desired = desiredModel(isvc);
    const pods = this.#pods(isvc.metadata.namespace ?? 'default', target.selector);
    const tracker = this.#tracker(key);
    tracker.retainPods(new Set(pods.map((p) => p.uid)));
    if (desired === undefined) {
      this.deps.store.set(
        key,
        pods.map((p) => noStorageUri(p)),
      );
      return DONE;
    }
    const observations = await Promise.all(
      pods.map((pod) => this.#driveReplica(key, pod, desired, target.exclusive, tracker, log)),
    );
    this.deps.store.set(key, observations);
    return this.#next(observations, desired, tracker, pods);
  }

  /** Aborts every call in flight (operator shutdown). */
  stop(): void {
    for (const tracker of this.#trackers.values()) tracker.abortAll();
  }

  async #driveReplica(
    key: string,
    pod: PodView,
    desired: DesiredModel,
    exclusive: boolean,
    tracker: LoadTracker,
    log: Logger,
  ): Promise<ReplicaObservation> {
    const index =
      pod.agentReady && pod.agentUrl !== undefined ? await this.#index(pod.agentUrl) : [];
    const plan = planReplica(desired, {
      pod,
      index,
      inFlight: tracker.inFlight(pod.uid, desired.name),
      failure: tracker.failure(pod.uid, desired.name, desired.storageUri),
      now: this.#now(),
      exclusive,
    });
    for (const action of plan.actions) this.#act(key, pod, desired, action, tracker, log);
    return plan.observation;
  }

  async #index(url: string): Promise<readonly AgentIndexEntry[] | { error: string }> {
    try {
      return await this.#client(url).agentIndex({ timeoutMs: this.deps.timings.indexTimeoutMs });
    } catch (error) {
      return { error: error instanceof RepositoryApiError ? error.message : String(error) };
    }
  }

  #act(
    key: string,
    pod: PodView,
    desired: DesiredModel,
    action: ReplicaAction,
    tracker: LoadTracker,
    log: Logger,
  ): void {
    const url = pod.agentUrl;
    if (url === undefined) return;
    const requeue = (): void => {
      this.deps.requeue(key);
    };
    switch (action.kind) {
      case 'noteSuccess':
        tracker.noteSuccess(pod.uid, desired.name);
        return;
      case 'noteFailure':
        tracker.noteFailure(pod.uid, desired.name, desired.storageUri, action.message);
        return;
      case 'load': {
        const parameters: AgentLoadParameters = {
          storage_uri: desired.storageUri,
          model_format: desired.format,
          ...(desired.storageKey === undefined ? {} : { storage_key: desired.storageKey }),
        };
        log.info(
          { pod: pod.name, model: desired.name, storageUri: desired.storageUri },
          'Loading model',
        );
        tracker.start(
          pod.uid,
          desired.name,
          desired.storageUri,
          (signal) =>
            this.#client(url).loadFromStorage(desired.name, parameters, {
              timeoutMs: this.deps.timings.loadTimeoutMs,
              signal,
            }),
          requeue,
        );
        return;
      }
      case 'unload':
        log.info({ pod: pod.name, model: action.model }, 'Unloading model');
        tracker.start(
          pod.uid,
          action.model,
          '',
          (signal) => this.#client(url).unload(action.model, { signal }),
          requeue,
        );
        return;
    }
  }

  #next(
    observations: readonly ReplicaObservation[],
    desired: DesiredModel,
    tracker: LoadTracker,
    pods: readonly PodView[],
  ): ReconcileResult {
    const { timings } = this.deps;
    let wait = timings.recheckMs;
    for (const [i, obs] of observations.entries()) {
      const pod = pods[i];
      if (
        obs.state === 'Loading' &&
        pod !== undefined &&
        tracker.inFlight(pod.uid, desired.name) === undefined
      ) {
        wait = Math.min(wait, timings.pollMs); // the agent is busy on its own: poll it
      }
      if (obs.state === 'FailedToLoad' && pod !== undefined) {
        const failure = tracker.failure(pod.uid, desired.name, desired.storageUri);
        if (failure !== undefined)
          wait = Math.min(wait, Math.max(0, failure.retryAt - this.#now()));
      }
      // Pending pods: their next status change (agent ready) enqueues the key.
    }
    return { kind: 'requeueAfter', ms: Math.max(wait, 50) };
  }

  /** Which pods serve this InferenceService: its own (Dedicated) or its pool shard's (Shared). */
  #target(
    isvc: InferenceService,
    key: string,
  ): { selector: Readonly<Record<string, string>>; exclusive: boolean } | undefined {
    if (isvc.spec.deploymentMode !== 'Shared') {
      return { selector: selectorLabels(isvc.metadata.name), exclusive: true };
    }
    const placement = this.deps.placements?.(key);
    return placement?.kind === 'placed'
      ? { selector: placement.selector, exclusive: false }
      : undefined;
  }

  #pods(namespace: string, selector: Readonly<Record<string, string>>): PodView[] {
    return this.deps.caches.pods
      .select(namespace, selector)
      .map(podView)
      .filter((p) => !p.terminating);
  }

  #tracker(key: string): LoadTracker {
    let tracker = this.#trackers.get(key);
    if (tracker === undefined) {
      tracker = new LoadTracker(this.deps.timings.backoff, this.#now);
      this.#trackers.set(key, tracker);
    }
    return tracker;
  }

  #forget(key: string): void {
    this.#trackers.get(key)?.abortAll();
    this.#trackers.delete(key);
    this.deps.store.delete(key);
  }
}

/** The model an InferenceService serves on each replica, or undefined without a storageUri. */
export function desiredModel(isvc: InferenceService): DesiredModel | undefined {
  const model = isvc.spec.predictor.model;
  const storageUri = effectiveStorageUri(isvc);
  if (storageUri === undefined) return undefined;
  const storageKey = model.storage?.key;
  return {
    name: servedModelName(isvc),
    storageUri,
    format: model.modelFormat.name,
    ...(storageKey === undefined ? {} : { storageKey }),
  };
}

function noStorageUri(pod: PodView): ReplicaObservation {
  return {
    pod: pod.name,
    state: 'FailedToLoad',
    reason:
      'spec.predictor.model.storageUri is not set (nor storage.path with storage.parameters.bucket): the agent needs it to pull the model',
  };
}
