/**
 * What to do on one replica, decided from what its agent reports. Pure: the driver gathers the
 * facts (pod, agent index, calls in flight, failures), this decides, the driver acts.
 */
import { reportsStorageUri, type AgentIndexEntry } from '@tessera/contract';
import { roundUpToGranule } from '../model-memory.js';
import type { LoadFailure } from './load-tracker.js';
import type { PodView } from './pod-view.js';
import type { ReplicaObservation } from './replica-observation.js';

/** The model an InferenceService wants on each of its replicas. */
export interface DesiredModel {
  readonly name: string;
  readonly storageUri: string;
  readonly format: string;
  /** The storage-config entry holding the credentials (`storage.key`). */
  readonly storageKey?: string;
}

/** Everything known about one replica at the start of a reconcile. */
export interface ReplicaFacts {
  readonly pod: PodView;
  /** The agent's index, or why it could not be read. */
  readonly index: readonly AgentIndexEntry[] | { readonly error: string };
  /** Storage URI of a load call in flight for the desired model, if any. */
  readonly inFlight: string | undefined;
  /** The last failure of loading the desired storage URI, if any. */
  readonly failure: LoadFailure | undefined;
  readonly now: number;
  /**
   * Whether the replica serves only this model (Dedicated): then models the agent pulled for
   * another name are unloaded. Pool servers hold other InferenceServices' models.
   */
  readonly exclusive: boolean;
}

export type ReplicaAction =
  | { readonly kind: 'load' }
  /** A model the agent pulled that this replica should not serve (a rename, a former model). */
  | { readonly kind: 'unload'; readonly model: string }
  /** The agent reported a failure of the desired load: record it so backoff applies. */
  | { readonly kind: 'noteFailure'; readonly message: string }
  | { readonly kind: 'noteSuccess' };

export interface ReplicaPlan {
  readonly observation: ReplicaObservation;
  readonly actions: readonly ReplicaAction[];
}

/** Decides the desired model's state on a replica and what to ask its agent. */
export function planReplica(desired: DesiredModel, facts: ReplicaFacts): ReplicaPlan {
  const { pod } = facts;
  if (!pod.agentReady) return observe(pod, 'Pending', pod.waitingFor ?? 'waiting for the pod');
  if (!Array.isArray(facts.index)) {
    const error = (facts.index as { error: string }).error;
    return observe(pod, 'Pending', `the agent did not answer: ${error}`);
  }
  const index = facts.index as readonly AgentIndexEntry[];
  const entry = index.find((e) => e.name === desired.name);
  // The agent shows URIs without user-info or query; its fingerprint says whether it is ours.
  const serving =
    entry?.state !== 'READY'
      ? undefined
      : indexNames(entry, desired)
        ? desired.storageUri
        : entry.storage_uri;
  const decided = decide(desired, facts, entry, serving);
  return {
    observation: {
      pod: pod.name,
      // Serving means answering through the Service: the pod must also pass its readiness probe.
      ...(serving === undefined || !pod.ready ? {} : { serving }),
      ...decided.observation,
    },
    actions: [...decided.actions, ...(facts.exclusive ? extraModels(index, desired) : [])],
  };
}

type Decision = {
  readonly observation: Omit<ReplicaObservation, 'pod' | 'serving'>;
  readonly actions: readonly ReplicaAction[];
};

function decide(
  desired: DesiredModel,
  facts: ReplicaFacts,
  entry: AgentIndexEntry | undefined,
  serving: string | undefined,
): Decision {
  const { failure } = facts;
  if (serving === desired.storageUri) return held(desired, facts);
  if (facts.inFlight === desired.storageUri || pullingDesired(entry, desired)) {
    const progress = entry?.pull?.bytes ? ` (${entry.pull.bytes} bytes so far)` : '';
    return {
      observation: { state: 'Loading', reason: `loading ${desired.storageUri}${progress}` },
      actions: [],
    };
  }
  const reported = reportedFailure(entry, desired);
  if (reported !== undefined && failure === undefined) {
    // Seen in the index before the driver saw its own call fail (or after an operator restart).
    return {
      observation: { state: 'FailedToLoad', reason: reported, failureTime: isoTime(facts.now) },
      actions: [{ kind: 'noteFailure', message: reported }],
    };
  }
  if (failure !== undefined && facts.now < failure.retryAt) {
    return {
      observation: { state: 'FailedToLoad', reason: failure.message, failureTime: failure.time },
      actions: [],
    };
  }
  const reason =
    failure === undefined
      ? `loading ${desired.storageUri}`
      : `retrying (attempt ${failure.attempts + 1}) after: ${failure.message}`;
  return { observation: { state: 'Loading', reason }, actions: [{ kind: 'load' }] };
}

/** The server serves the desired storage URI: Loaded once the pod is Ready, with its memory. */
function held(desired: DesiredModel, facts: ReplicaFacts): Decision {
  const actions: ReplicaAction[] = facts.failure === undefined ? [] : [{ kind: 'noteSuccess' }];
  const memory = reportedMemory(facts.index as readonly AgentIndexEntry[], desired);
  const memoryBytes = memory === undefined ? {} : { memoryBytes: memory };
  // A copy counts once its Service routes to it: the server's readiness probe has passed.
  return facts.pod.ready
    ? { observation: { state: 'Loaded', ...memoryBytes }, actions }
    : {
        observation: {
          state: 'Loading',
          reason: 'loaded; waiting for the readiness probe',
          ...memoryBytes,
        },
        actions,
      };
}

/**
 * What the server reports the desired model holds: the sum over its READY versions (the index
 * has one entry per version), rounded up to MiB; undefined when the runtime reports nothing.
 */
function reportedMemory(
  index: readonly AgentIndexEntry[],
  desired: DesiredModel,
): number | undefined {
  const reports = index
    .filter((e) => e.name === desired.name && e.state === 'READY')
    .map((e) => e.memory_bytes)
    .filter((b): b is number => b !== undefined);
  return reports.length === 0 ? undefined : roundUpToGranule(reports.reduce((a, b) => a + b, 0));
}

/** Models the agent pulled that this replica should not serve (a renamed or former model). */
function extraModels(index: readonly AgentIndexEntry[], desired: DesiredModel): ReplicaAction[] {
  return index
    .filter(
      (e) => e.name !== desired.name && e.storage_uri !== undefined && e.state !== 'UNLOADING',
    )
    .map((e) => ({ kind: 'unload', model: e.name }));
}

function observe(pod: PodView, state: ReplicaObservation['state'], reason: string): ReplicaPlan {
  return { observation: { pod: pod.name, state, reason }, actions: [] };
}

function pullingDesired(entry: AgentIndexEntry | undefined, desired: DesiredModel): boolean {
  if (entry?.pull === undefined || !pullNames(entry.pull, desired)) return false;
  return (
    entry.pull.phase === 'Pulling' || (entry.pull.phase === 'Pulled' && entry.state === 'LOADING')
  );
}

/** A failure of the desired load that the agent reports in its index. */
function reportedFailure(
  entry: AgentIndexEntry | undefined,
  desired: DesiredModel,
): string | undefined {
  if (entry === undefined) return undefined;
  if (entry.pull?.phase === 'Failed' && pullNames(entry.pull, desired)) {
    return entry.pull.message ?? 'the artefact could not be pulled';
  }
  if (entry.state === 'UNAVAILABLE' && indexNames(entry, desired) && entry.reason) {
    return entry.reason;
  }
  return undefined;
}

/** Whether the entry's artefact is the desired storage URI. */
function indexNames(entry: AgentIndexEntry, desired: DesiredModel): boolean {
  return reportsStorageUri(
    { display: entry.storage_uri, fingerprint: entry.storage_uri_fingerprint },
    desired.storageUri,
  );
}

/** Whether the entry's pull is of the desired storage URI. */
function pullNames(pull: NonNullable<AgentIndexEntry['pull']>, desired: DesiredModel): boolean {
  return reportsStorageUri(
    { display: pull.storage_uri, fingerprint: pull.storage_uri_fingerprint },
    desired.storageUri,
  );
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
