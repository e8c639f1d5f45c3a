import type {
  InferenceService,
  ProtocolVersion,
  ServingRuntime,
  SupportedModelFormat,
} from '../../api/v1alpha1/index.js';

/** Why no runtime could be used, in KServe's failure-reason vocabulary. */
export type NoRuntimeReason =
  'NoSupportingRuntime' | 'RuntimeNotFound' | 'RuntimeDisabled' | 'RuntimeNotRecognized';

/** The outcome of runtime selection. */
export type RuntimeSelection =
  | { readonly kind: 'selected'; readonly runtime: ServingRuntime }
  | { readonly kind: 'none'; readonly reason: NoRuntimeReason; readonly message: string };

/** Tessera serves the V2 (Open Inference) protocol; it is the default when none is asked for. */
const DEFAULT_PROTOCOL: ProtocolVersion = 'v2';

function matchingFormat(
  runtime: ServingRuntime,
  isvc: InferenceService,
): SupportedModelFormat | undefined {
  const wanted = isvc.spec.predictor.model.modelFormat;
  return runtime.spec.supportedModelFormats.find(
    (f) =>
      f.name.toLowerCase() === wanted.name.toLowerCase() &&
      (wanted.version === undefined || f.version === undefined || f.version === wanted.version),
  );
}

/** Why `runtime` cannot serve `isvc` (ignoring autoSelect), or undefined if it can. */
function incompatibility(runtime: ServingRuntime, isvc: InferenceService): string | undefined {
  const model = isvc.spec.predictor.model;
  const protocol = model.protocolVersion ?? DEFAULT_PROTOCOL;
  const protocols = runtime.spec.protocolVersions ?? [DEFAULT_PROTOCOL];
  const shared = isvc.spec.deploymentMode === 'Shared';
  if (matchingFormat(runtime, isvc) === undefined) {
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
  return { kind: 'selected', runtime };
}

/** Highest priority first (no priority sorts last), then newest, then by name. */
function compareCandidates(isvc: InferenceService) {
  return (a: ServingRuntime, b: ServingRuntime): number => {
    const pa = matchingFormat(a, isvc)?.priority ?? 0;
    const pb = matchingFormat(b, isvc)?.priority ?? 0;
    if (pa !== pb) return pb - pa;
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
        matchingFormat(r, isvc)?.autoSelect === true &&
        incompatibility(r, isvc) === undefined,
    )
    .sort(compareCandidates(isvc));
}

/**
 * Picks the runtime for an InferenceService, after KServe's `GetSupportingRuntimes`: a pinned
 * `spec.predictor.model.runtime` is used if it exists, is enabled and fits; otherwise the
 * auto-selectable runtimes that fit are ranked, namespace ServingRuntimes always before
 * ClusterServingRuntimes, and within each by format priority, then newest, then name.
 */
export function selectRuntime(
  isvc: InferenceService,
  namespaced: readonly ServingRuntime[],
  cluster: readonly ServingRuntime[],
): RuntimeSelection {
  const pinned = isvc.spec.predictor.model.runtime;
  if (pinned !== undefined) return selectPinned(pinned, isvc, namespaced, cluster);
  const [best] = [...autoCandidates(isvc, namespaced), ...autoCandidates(isvc, cluster)];
  if (best !== undefined) return { kind: 'selected', runtime: best };
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
