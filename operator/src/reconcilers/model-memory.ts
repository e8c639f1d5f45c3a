/**
 * A model's memory as the operator reasons about it: what the InferenceService declares
 * (`resources.requests.memory`, else `limits.memory`) and what its servers report for the loaded
 * model (the repository index's `memory_bytes`, relayed by the agents), recorded in
 * `status.modelStatus.reportedMemory`. Placement uses the larger of the two, as ModelMesh sizes
 * a model by what its runtime reports after the load rather than by a guess. Pure.
 */
import type { InferenceService, ModelStatus } from '../api/v1alpha1/index.js';
import { formatBytes, quantityToBytes } from '../manifests/index.js';

/** Reports are recorded in whole MiB, so a change of a few bytes never causes a status write. */
export const MEMORY_GRANULE_BYTES = 2 ** 20;

/** `bytes` rounded up to the next MiB (an upper bound: placement never under-counts). */
export function roundUpToGranule(bytes: number): number {
  return Math.ceil(Math.max(0, bytes) / MEMORY_GRANULE_BYTES) * MEMORY_GRANULE_BYTES;
}

/** The memory an InferenceService declares, or undefined when it declares none. */
export function declaredMemoryBytes(isvc: InferenceService): number | undefined {
  const resources = isvc.spec.predictor.model.resources;
  const declared = resources?.requests?.['memory'] ?? resources?.limits?.['memory'];
  return declared === undefined ? undefined : quantityToBytes(declared);
}

/**
 * The memory the servers last reported for the model the InferenceService asks for now, or
 * undefined: a report about another storage URI (before an update) says nothing of this one.
 */
export function reportedMemoryBytes(isvc: InferenceService): number | undefined {
  const reported = isvc.status?.modelStatus?.reportedMemory;
  const wanted = isvc.spec.predictor.model.storageUri;
  return reported !== undefined && wanted !== undefined && reported.storageUri === wanted
    ? reported.bytes
    : undefined;
}

/**
 * The `reportedMemory` to record: the largest report of the replicas that serve `storageUri`
 * now, else the previous record while it is still about `storageUri` (replicas restarting, or a
 * model that was moved off its shard, keep their size, so placement does not flap).
 */
export function reportedMemoryOf(
  reports: readonly (number | undefined)[],
  storageUri: string | undefined,
  previous: ModelStatus['reportedMemory'],
): ModelStatus['reportedMemory'] {
  if (storageUri === undefined) return undefined;
  const known = reports.filter((r): r is number => r !== undefined);
  if (known.length > 0) return { bytes: Math.max(...known), storageUri };
  return previous?.storageUri === storageUri ? previous : undefined;
}

/**
 * The note of the Event to send when the reported memory has just come to exceed the declared
 * one (a transition: not again while it stays above), or undefined.
 */
export function memoryExceededNote(
  declaredBytes: number | undefined,
  previous: ModelStatus['reportedMemory'],
  next: ModelStatus['reportedMemory'],
): string | undefined {
  if (declaredBytes === undefined || next === undefined || next.bytes <= declaredBytes)
    return undefined;
  if (previous?.storageUri === next.storageUri && previous.bytes > declaredBytes) return undefined;
  return (
    `the servers report ${formatBytes(next.bytes)} for the model, more than the ` +
    `${formatBytes(declaredBytes)} it declares; placement counts ${formatBytes(next.bytes)} ` +
    '(raise resources.requests.memory to match)'
  );
}
