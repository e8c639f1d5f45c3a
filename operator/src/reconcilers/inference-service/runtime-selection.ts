import type {
  InferenceService,
  ProtocolVersion,
  ServingRuntime,
  SupportedModelFormat,
  Unsupported,
} from '../../api/v1alpha1/index.js';
import { runtimeProblems } from '../runtime-check.js';

/**
 * Why no runtime could be used, in KServe's failure-reason vocabulary, or what the chosen
 * runtime asks for that Tessera refuses (reconcilers/runtime-check.ts).
 */
export type NoRuntimeReason =
  | 'NoSupportingRuntime'
  | 'RuntimeNotFound'
  | 'RuntimeDisabled'
  | 'RuntimeNotRecognized'
  | Unsupported['reason'];

/** The outcome of runtime selection. */
export type RuntimeSelection =
  | { readonly kind: 'selected'; readonly runtime: ServingRuntime }
  | { readonly kind: 'none'; readonly reason: NoRuntimeReason; readonly message: string };

/** Tessera serves the V2 (Open Inference) protocol; it is the default when none is asked for. */
const DEFAULT_PROTOCOL: ProtocolVersion = 'v2';

/**
 * The runtime's entries for the model's format (KServe's `mt:<name>` / `mt:<name>:<version>`
 * labels): same name, and the same version when the model names one; only auto-selectable
 * entries count unless the InferenceService pins the runtime.
 */
function matchingFormats(
  runtime: ServingRuntime,
  isvc: InferenceService,
  autoOnly: boolean,
): SupportedModelFormat[] {
  const wanted = isvc.spec.predictor.model.modelFormat;
  return runtime.spec.supportedModelFormats.filter(
    (f) =>
      f.name.toLowerCase() === wanted.name.toLowerCase() &&
      (wanted.version === undefined || f.version === wanted.version) &&
      (!autoOnly || f.autoSelect === true),
  );
}

/** Why `runtime` cannot serve `isvc` (ignoring autoSelect), or undefined if it can. */
function incompatibility(runtime: ServingRuntime, isvc: InferenceService): string | undefined {
  const model = isvc.spec.predictor.model;
  const protocol = model.protocolVersion ?? DEFAULT_PROTOCOL;
  const protocols = runtime.spec.protocolVersions ?? [DEFAULT_PROTOCOL];
  const shared = isvc.spec.deploymentMode === 'Shared';
  if (runtime.spec.workerSpec !== undefined)
    return 'is a multi-node runtime (workerSpec); Tessera serves a model from one pod';
  if (matchingFormats(runtime, isvc, false).length === 0) {
    const version =
      model.modelFormat.version === undefined ? '' : ` version ${model.modelFormat.version}`;
    return `does not support model format ${model.modelFormat.name}${version}`;
  }
  if (!protocols.includes(protocol)) return `does not support protocol ${protocol}`;
  if ((runtime.spec.multiModel ?? false) !== shared) {
    return shared
      ? 'is not multiModel (deploymentMode Shared)'
      : 'is multiModel (deploymentMode Dedicated)';
  }
  return undefined;
}

function describe(runtime: ServingRuntime): string {
  return `${runtime.kind} ${runtime.metadata.name}`;
}

function selectPinned(
  name: string,
  isvc: InferenceService,
  namespaced: readonly ServingRuntime[],
  cluster: readonly ServingRuntime[],
): RuntimeSelection {
  // A namespace runtime shadows a cluster runtime of the same name (as in KServe).
  const runtime =
    namespaced.find((r) => r.metadata.name === name) ??
    cluster.find((r) => r.metadata.name === name);
  if (runtime === undefined) {
    return {
      kind: 'none',
      reason: 'RuntimeNotFound',
      message: `runtime ${name} was found neither as a ServingRuntime in namespace ${isvc.metadata.namespace ?? ''} nor as a ClusterServingRuntime`,
    };
  }
  if (runtime.spec.disabled === true) {
    return { kind: 'none', reason: 'RuntimeDisabled', message: `${describe(runtime)} is disabled` };
  }
  const why = incompatibility(runtime, isvc);
  if (why !== undefined) {
    return { kind: 'none', reason: 'RuntimeNotRecognized', message: `${describe(runtime)} ${why}` };
  }
  return checked(runtime);
}

/**
 * The chosen runtime, unless it asks for what Tessera's pods never do (Pod Security
 * "restricted", unknown placeholders): then no pod is built and the reason names the field.
 */
function checked(runtime: ServingRuntime): RuntimeSelection {
  const problems = runtimeProblems(runtime);
  const [first] = problems;
  if (first === undefined) return { kind: 'selected', runtime };
  return { kind: 'none', reason: first.reason, message: problems.map((p) => p.message).join('; ') };
}

/** KServe's `GetProtocolVersionPriority`: the lowest protocol a runtime lists, in this order. */
const PROTOCOL_ORDER: readonly ProtocolVersion[] = ['v1', 'v2', 'grpc-v1', 'grpc-v2'];
function protocolRank(runtime: ServingRuntime): number {
  const ranks = (runtime.spec.protocolVersions ?? []).map((p) => PROTOCOL_ORDER.indexOf(p));
  return ranks.length === 0 ? PROTOCOL_ORDER.length : Math.min(...ranks);
}

/** The priority of the runtime's auto-selectable entry for the model; undefined if it gives none. */
function priorityOf(runtime: ServingRuntime, isvc: InferenceService): number | undefined {
  return matchingFormats(runtime, isvc, true).find((f) => f.priority !== undefined)?.priority;
}

/**
 * KServe's order (`sortServingRuntimeList`, then a stable `sortSupportedRuntimeByPriority`):
 * highest format priority first, a runtime with a priority before one without; among equals,
 * the lowest protocol rank, then the newest, then by name.
 */
function compareCandidates(isvc: InferenceService) {
  return (a: ServingRuntime, b: ServingRuntime): number => {
    const pa = priorityOf(a, isvc) ?? 0;
    const pb = priorityOf(b, isvc) ?? 0;
    if (pa !== pb) return pb - pa;
    const ra = protocolRank(a);
    const rb = protocolRank(b);
    if (ra !== rb) return ra - rb;
    const ca = a.metadata.creationTimestamp ?? '';
    const cb = b.metadata.creationTimestamp ?? '';
    if (ca !== cb) return ca < cb ? 1 : -1;
    return a.metadata.name.localeCompare(b.metadata.name);
  };
}

function autoCandidates(
  isvc: InferenceService,
  runtimes: readonly ServingRuntime[],
): ServingRuntime[] {
  return runtimes
    .filter(
      (r) =>
        r.spec.disabled !== true &&
        matchingFormats(r, isvc, true).length > 0 &&
        incompatibility(r, isvc) === undefined,
    )
    .sort(compareCandidates(isvc));
}

/**
 * Picks the runtime for an InferenceService, after KServe's `GetSupportingRuntimes`: a pinned
 * `spec.predictor.model.runtime` is used if it exists, is enabled and fits; otherwise the
 * auto-selectable runtimes that fit are ranked, namespace ServingRuntimes always before
 * ClusterServingRuntimes, and within each by format priority, then protocol rank, then newest,
 * then name. The chosen runtime is refused if it asks for what Tessera's pods never do.
 */
export function selectRuntime(
  isvc: InferenceService,
  namespaced: readonly ServingRuntime[],
  cluster: readonly ServingRuntime[],
): RuntimeSelection {
  const pinned = isvc.spec.predictor.model.runtime;
  if (pinned !== undefined) return selectPinned(pinned, isvc, namespaced, cluster);
  const [best] = [...autoCandidates(isvc, namespaced), ...autoCandidates(isvc, cluster)];
  if (best !== undefined) return checked(best);
  const model = isvc.spec.predictor.model;
  const format =
    model.modelFormat.version === undefined
      ? model.modelFormat.name
      : `${model.modelFormat.name} version ${model.modelFormat.version}`;
  return {
    kind: 'none',
    reason: 'NoSupportingRuntime',
    message: `no ServingRuntime in namespace ${isvc.metadata.namespace ?? ''} or ClusterServingRuntime supports model format ${format} with protocol ${model.protocolVersion ?? DEFAULT_PROTOCOL} and autoSelect: true (deploymentMode ${isvc.spec.deploymentMode})`,
  };
}
