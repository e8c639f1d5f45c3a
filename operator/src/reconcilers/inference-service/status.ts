import type { Condition, InferenceServiceStatus, ModelStatus } from '../../api/v1alpha1/index.js';
import type { KubeObject } from '../../kube/client.js';
import type { Observations, ReplicaObservation } from '../model-driver/replica-observation.js';
import { reportedMemoryOf } from '../model-memory.js';

/** Condition types of an InferenceService (KServe: Ready is derived from the others). */
export const CONDITION = {
  ready: 'Ready',
  predictorReady: 'PredictorReady',
  modelsReady: 'ModelsReady',
} as const;

/** What the predictor looks like right now. */
export type PredictorState =
  /** Nothing can be deployed: invalid spec, no runtime, unsupported mode. */
  | {
      readonly kind: 'blocked';
      readonly reason: string;
      readonly message: string;
      readonly transitionStatus: ModelStatus['transitionStatus'];
    }
  /**
   * The Deployment was applied; `deployment` is the live object and `replicas` what the model
   * driver last saw on each replica through its agent (undefined before its first look).
   */
  | {
      readonly kind: 'deployed';
      readonly deployment: KubeObject | undefined;
      readonly replicas: Observations | undefined;
      /** The storage URI the InferenceService asks for. */
      readonly storageUri: string | undefined;
    };

/** Everything the status is computed from. Pure input: the clock is passed in. */
export interface StatusInput {
  readonly generation: number;
  readonly previous: InferenceServiceStatus | undefined;
  /** RFC 3339 time used for lastTransitionTime of conditions that change now. */
  readonly now: string;
  readonly predictor: PredictorState;
  readonly url: string | undefined;
  readonly selector: string;
  readonly deploymentMode: string;
  readonly runtime:
    | { readonly name: string; readonly kind: 'ServingRuntime' | 'ClusterServingRuntime' }
    | undefined;
  /**
   * The storage URI the spec asks for, also while blocked (e.g. not placed): the memory its
   * servers reported is kept for it (`modelStatus.reportedMemory`).
   */
  readonly storageUri?: string;
}

type ConditionCore = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

function deploymentStatus(d: KubeObject | undefined): DeploymentStatus {
  const status = d?.['status'] as DeploymentStatus | undefined;
  return status ?? {};
}

function desiredReplicas(d: KubeObject | undefined): number {
  const spec = (d?.['spec'] ?? {}) as { replicas?: number };
  return spec.replicas ?? 1;
}

/** Not ready while the Deployment controller has not observed the latest spec (API conventions). */
function generationLag(d: KubeObject): ConditionCore | undefined {
  const generation = d.metadata?.generation ?? 0;
  const observed = deploymentStatus(d).observedGeneration ?? 0;
  if (observed >= generation) return undefined;
  return {
    type: CONDITION.predictorReady,
    status: 'False',
    reason: 'DeploymentProgressing',
    message: `waiting for the Deployment controller to observe generation ${generation} (observed ${observed})`,
  };
}

/**
 * PredictorReady follows the Deployment's own availability, as reported by the Deployment
 * controller: its observedGeneration must have caught up with the spec (API conventions), and
 * its Available condition must be True with at least one available replica.
 */
function predictorCondition(d: KubeObject | undefined): ConditionCore {
  const type = CONDITION.predictorReady;
  if (d === undefined) {
    return {
      type,
      status: 'False',
      reason: 'DeploymentNotFound',
      message: 'the predictor Deployment does not exist yet',
    };
  }
  const st = deploymentStatus(d);
  const lag = generationLag(d);
  if (lag !== undefined) return lag;
  const available = st.conditions?.find((c) => c.type === 'Available');
  const count = `${st.availableReplicas ?? 0}/${desiredReplicas(d)} replicas available`;
  if (available?.status === 'True' && (st.availableReplicas ?? 0) >= 1) {
    return { type, status: 'True', reason: 'DeploymentAvailable', message: count };
  }
  return {
    type,
    status: 'False',
    reason: available?.reason ?? 'MinimumReplicasUnavailable',
    message: available?.message === undefined ? count : `${available.message} (${count})`,
  };
}

/** Copies of the model across replicas, from the servers' own index (through the agents). */
interface Copies {
  readonly desired: number;
  readonly loaded: number;
  readonly serving: number;
  readonly failed: readonly ReplicaObservation[];
  readonly loading: number;
}

function copiesOf(d: KubeObject | undefined, replicas: Observations): Copies {
  return {
    desired: desiredReplicas(d),
    loaded: replicas.filter((r) => r.state === 'Loaded').length,
    serving: replicas.filter((r) => r.serving !== undefined).length,
    failed: replicas.filter((r) => r.state === 'FailedToLoad'),
    loading: replicas.filter((r) => r.state === 'Loading').length,
  };
}

/**
 * ModelsReady: at least one replica's server reports the desired model READY (a replica still
 * serving an older storage URI during an update keeps traffic flowing, but does not count).
 */
function modelsCondition(predictor: DeployedState): ConditionCore {
  const type = CONDITION.modelsReady;
  if (predictor.replicas === undefined) {
    return {
      type,
      status: 'False',
      reason: 'ModelsNotObserved',
      message: "waiting for the first report from the replicas' agents",
    };
  }
  const c = copiesOf(predictor.deployment, predictor.replicas);
  if (c.loaded >= 1) {
    return {
      type,
      status: 'True',
      reason: 'ModelsLoaded',
      message: `${c.loaded}/${c.desired} replicas serve the model`,
    };
  }
  if (c.serving >= 1) {
    // An update is under way or failed: the previous storage URI keeps answering (ModelMesh's
    // BlockedByFailedLoad), so traffic is served; modelStatus says what the target is doing.
    const failure = c.failed[0];
    return {
      type,
      status: 'True',
      reason: failure === undefined ? 'ModelUpdating' : 'ModelUpdateFailed',
      message:
        failure === undefined
          ? `${c.serving}/${c.desired} replicas serve the previous version while the new one loads`
          : `${c.serving}/${c.desired} replicas serve the previous version; the new one failed to load: ${failure.reason ?? 'unknown reason'}`,
    };
  }
  const firstFailure = c.failed[0];
  if (firstFailure !== undefined) {
    return {
      type,
      status: 'False',
      reason: 'FailedToLoad',
      message: `${c.failed.length}/${c.desired} replicas failed to load the model: ${firstFailure.reason ?? 'unknown reason'}`,
    };
  }
  const waiting = predictor.replicas.find((r) => r.state !== 'Loaded');
  return {
    type,
    status: 'False',
    reason: c.loading > 0 ? 'ModelLoading' : 'ModelsNotLoaded',
    message: `no replica serves the model yet (0/${c.desired})${waiting?.reason === undefined ? '' : `: ${waiting.reason}`}`,
  };
}

type DeployedState = Extract<PredictorState, { kind: 'deployed' }>;

function readyCondition(parts: ConditionCore[]): ConditionCore {
  // A model that failed to load is the cause when the pods are also unavailable (a server is
  // ready only once its model is), so Ready names it rather than its consequence.
  const failing =
    parts.find((c) => c.status !== 'True' && c.reason === 'FailedToLoad') ??
    parts.find((c) => c.status !== 'True');
  if (failing === undefined) {
    return {
      type: CONDITION.ready,
      status: 'True',
      reason: 'Ready',
      message: 'the predictor is available and the model is loaded',
    };
  }
  return {
    type: CONDITION.ready,
    status: 'False',
    reason: failing.reason,
    message: `${failing.type}: ${failing.message}`,
  };
}

function modelStatusOf(input: StatusInput): ModelStatus {
  const { predictor } = input;
  const reports = predictor.kind === 'deployed' ? (predictor.replicas ?? []) : [];
  const reportedMemory = reportedMemoryOf(
    reports.map((r) => r.memoryBytes),
    predictor.kind === 'deployed' ? predictor.storageUri : input.storageUri,
    input.previous?.modelStatus?.reportedMemory,
  );
  const status = modelStatusOfPredictor(predictor);
  if (reportedMemory !== undefined) status.reportedMemory = reportedMemory;
  return status;
}

function modelStatusOfPredictor(predictor: PredictorState): ModelStatus {
  if (predictor.kind === 'blocked') {
    return {
      transitionStatus: predictor.transitionStatus,
      loaded: '0/0',
      states: { activeModelState: 'Pending', targetModelState: '' },
      copies: { totalCopies: 0, failedCopies: 0 },
      lastFailureInfo: { reason: predictor.reason, message: predictor.message },
    };
  }
  const replicas = predictor.replicas ?? [];
  const c = copiesOf(predictor.deployment, replicas);
  const status: ModelStatus = {
    transitionStatus: transitionOf(c),
    loaded: `${c.loaded}/${c.desired}`,
    states: {
      // The active model is what serves traffic now (maybe an older version during an update).
      activeModelState:
        c.loaded > 0 || c.serving > 0
          ? 'Loaded'
          : c.failed.length > 0
            ? 'FailedToLoad'
            : c.loading > 0
              ? 'Loading'
              : 'Pending',
      targetModelState:
        c.loaded >= c.desired
          ? 'Loaded'
          : c.failed.length > 0
            ? 'FailedToLoad'
            : c.loading > 0
              ? 'Loading'
              : 'Pending',
    },
    copies: { totalCopies: c.loaded, failedCopies: c.failed.length },
  };
  const failure = c.failed[0];
  if (failure !== undefined) {
    status.lastFailureInfo = {
      reason: 'ModelLoadFailed',
      message: failure.reason ?? 'the model failed to load',
      location: failure.pod,
      ...(failure.failureTime === undefined ? {} : { time: failure.failureTime }),
    };
  }
  if (replicas.length > 0) {
    status.replicas = replicas.slice(0, MAX_REPLICA_ENTRIES).map((r) => ({
      pod: r.pod,
      state: r.state,
      ...(r.serving === undefined ? {} : { storageUri: r.serving }),
      ...(r.reason === undefined || r.state === 'Loaded' ? {} : { reason: r.reason }),
      ...(r.memoryBytes === undefined ? {} : { memoryBytes: r.memoryBytes }),
    }));
  }
  return status;
}

/** The CRD bounds status.modelStatus.replicas. */
const MAX_REPLICA_ENTRIES = 100;

function transitionOf(c: Copies): ModelStatus['transitionStatus'] {
  if (c.failed.length > 0) return 'BlockedByFailedLoad';
  return c.loaded >= c.desired && c.desired > 0 ? 'UpToDate' : 'InProgress';
}

/**
 * Stamps observedGeneration and keeps the previous lastTransitionTime when a condition's status
 * did not change (API conventions: lastTransitionTime is when status last changed).
 */
function finish(core: ConditionCore, input: StatusInput): Condition {
  const old = input.previous?.conditions?.find((c) => c.type === core.type);
  const lastTransitionTime =
    old !== undefined && old.status === core.status ? old.lastTransitionTime : input.now;
  return { ...core, observedGeneration: input.generation, lastTransitionTime };
}

/** Computes the InferenceService status from observed state. Pure. */
export function computeStatus(input: StatusInput): InferenceServiceStatus {
  const { predictor } = input;
  let parts: ConditionCore[];
  if (predictor.kind === 'blocked') {
    const { reason, message } = predictor;
    parts = [
      { type: CONDITION.predictorReady, status: 'False', reason, message },
      { type: CONDITION.modelsReady, status: 'False', reason, message },
    ];
  } else {
    parts = [predictorCondition(predictor.deployment), modelsCondition(predictor)];
  }
  const conditions = [readyCondition(parts), ...parts].map((c) => finish(c, input));
  const status: InferenceServiceStatus = {
    observedGeneration: input.generation,
    deploymentMode: input.deploymentMode,
    selector: input.selector,
    replicas:
      predictor.kind === 'deployed' ? (deploymentStatus(predictor.deployment).replicas ?? 0) : 0,
    conditions,
    modelStatus: modelStatusOf(input),
  };
  if (input.url !== undefined) status.url = input.url;
  if (input.runtime !== undefined) {
    status.runtimeName = input.runtime.name;
    status.runtimeKind = input.runtime.kind;
  }
  return status;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/**
 * Whether the live status already holds everything `desired` says, regardless of key order.
 * Only the fields and condition types the operator writes are compared, so a condition added
 * by another controller does not make the operator write again. Status is written only if not.
 */
export function statusUpToDate(
  desired: InferenceServiceStatus,
  live: InferenceServiceStatus | undefined,
): boolean {
  if (live === undefined) return false;
  const ours = new Set((desired.conditions ?? []).map((c) => c.type));
  const projected: Record<string, unknown> = {};
  for (const key of Object.keys(desired)) projected[key] = (live as Record<string, unknown>)[key];
  projected['conditions'] = (live.conditions ?? []).filter((c) => ours.has(c.type));
  const order = (cs: Condition[] | undefined): Condition[] =>
    [...(cs ?? [])].sort((a, b) => a.type.localeCompare(b.type));
  const a = { ...desired, conditions: order(desired.conditions) };
  const b = { ...projected, conditions: order(projected['conditions'] as Condition[]) };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
