/**
 * A Shared-mode pool: per namespace and multi-model runtime, a set of shard Deployments whose
 * servers each hold several models (ModelMesh's and Seldon Core v2's shape). Which
 * InferenceServices a shard holds is recorded on the shard itself (an annotation), so
 * placement survives operator restarts without a store of its own.
 */
import type { ServingRuntime } from '../api/v1alpha1/index.js';
import { SURGE_FIRST, podSpec } from './deployment.js';
import type { ManifestConfig } from './input.js';
import { COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './labels.js';
import type { Deployment } from './types.js';

/** Runtime name of the pool a shard belongs to. */
export const POOL_LABEL = 'serving.tessera.io/pool';
/** `ServingRuntime` or `ClusterServingRuntime`. */
export const POOL_KIND_LABEL = 'serving.tessera.io/pool-kind';
/** Shard number within the pool. */
export const SHARD_LABEL = 'serving.tessera.io/shard';
/** JSON array of the InferenceService names placed on the shard. */
export const PLACED_MODELS_ANNOTATION = 'serving.tessera.io/placed-models';

/** Everything a shard is built from. Pure input. */
export interface PoolShardInput {
  readonly namespace: string;
  readonly runtime: ServingRuntime;
  readonly shard: number;
  /** InferenceService names placed on the shard; none scales the shard to zero. */
  readonly models: readonly string[];
  readonly replicas: number;
  readonly config: ManifestConfig;
}

/** Deterministic shard name. */
export function shardName(
  runtime: { readonly metadata: { readonly name: string } },
  shard: number,
): string {
  return `tessera-pool-${runtime.metadata.name}-${shard}`;
}

/** The labels selecting a shard's pods (the Shared InferenceService's Service uses them). */
export function shardSelector(runtime: ServingRuntime, shard: number): Record<string, string> {
  return {
    [POOL_LABEL]: runtime.metadata.name,
    [POOL_KIND_LABEL]: runtime.kind,
    [SHARD_LABEL]: String(shard),
    [COMPONENT_LABEL]: 'pool',
  };
}

function shardLabels(runtime: ServingRuntime, shard: number): Record<string, string> {
  return {
    ...shardSelector(runtime, shard),
    'app.kubernetes.io/name': 'tessera-server',
    'app.kubernetes.io/instance': shardName(runtime, shard),
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
  };
}

/** The runtime's pod labels and annotations, under the shard's own labels. */
function shardPodMetadata(
  runtime: ServingRuntime,
  shard: number,
): { labels: Record<string, string>; annotations?: Record<string, string> } {
  const labels = { ...runtime.spec.labels, ...shardLabels(runtime, shard) };
  const annotations = runtime.spec.annotations;
  return annotations !== undefined && Object.keys(annotations).length > 0
    ? { labels, annotations: { ...annotations } }
    : { labels };
}

/** A pool shard Deployment, owned by its runtime (deleted with it by the garbage collector). */
export function buildPoolShard(input: PoolShardInput): Deployment {
  const { runtime, shard } = input;
  const uid = runtime.metadata.uid;
  if (uid === undefined || uid === '') {
    throw new Error(
      `${runtime.kind} ${runtime.metadata.name} has no uid; owner references need one`,
    );
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: shardName(runtime, shard),
      namespace: input.namespace,
      labels: shardLabels(runtime, shard),
      annotations: { [PLACED_MODELS_ANNOTATION]: JSON.stringify([...input.models].sort()) },
      ownerReferences: [
        { apiVersion: runtime.apiVersion, kind: runtime.kind, name: runtime.metadata.name, uid },
      ],
    },
    spec: {
      replicas: input.models.length === 0 ? 0 : input.replicas,
      selector: { matchLabels: shardSelector(runtime, shard) },
      strategy: structuredClone(SURGE_FIRST),
      template: {
        metadata: shardPodMetadata(runtime, shard),
        // A shard holds many models: its placeholders are filled from the shard's own name.
        spec: podSpec({
          runtime,
          config: input.config,
          requiredModels: [],
          meta: { name: shardName(runtime, shard), namespace: input.namespace },
        }),
      },
    },
  };
}

/** The InferenceService names a live shard holds (its annotation; [] when unreadable). */
export function placedModels(shard: {
  metadata?: { annotations?: Record<string, string> };
}): string[] {
  const raw = shard.metadata?.annotations?.[PLACED_MODELS_ANNOTATION];
  if (raw === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed.filter((n): n is string => typeof n === 'string') : [];
  } catch {
    return [];
  }
}
