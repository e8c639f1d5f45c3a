/**
 * Memory-aware placement of Shared-mode models onto the shards of a runtime's pool. Pure.
 *
 * A model counts as the larger of the memory it declares and the memory its servers reported
 * for it once loaded ({@link footprint}), so a model that declares 16Mi but holds 400Mi fills its
 * shard and the next model overflows into another.
 *
 * Sticky: a model stays on its shard while it still fits, so placement never moves a serving
 * model because another one arrived or left (one moves only when a report shows that its shard
 * holds more than its capacity: the newest model there makes room). New models go, oldest first, to the first shard
 * with room (first fit, as ModelMesh's placement does for a fresh model) and a shard never
 * holds two models served under the same name. When no shard has room a new shard is opened,
 * up to a limit; a model that can never fit, or finds the pool full, is left unplaced with a
 * reason the user can act on.
 */
import { formatBytes } from '../../manifests/quantity.js';

/** A model that wants a place in the pool. */
export interface PoolModel {
  /** InferenceService name (the pool is per namespace). */
  readonly name: string;
  /** The name it is served under (unique per shard). */
  readonly servedName: string;
  /** The memory it declares (resources.requests.memory, else the operator's default). */
  readonly memoryBytes: number;
  /** The memory its servers reported for it once loaded (status.modelStatus.reportedMemory). */
  readonly reportedBytes?: number;
  /** creationTimestamp, for a stable first-come order. */
  readonly created: string;
}

/** A shard and the InferenceServices placed on it. */
export interface Shard {
  readonly index: number;
  readonly models: readonly string[];
}

export interface PlacementLimits {
  /** The runtime's `capacity.memory` per shard. */
  readonly capacityBytes: number;
  readonly maxShards: number;
}

export interface Placement {
  /** Every shard that exists or must exist, by index; an empty one scales to zero. */
  readonly shards: readonly Shard[];
  /** Models that could not be placed, with why. */
  readonly unplaced: ReadonlyMap<string, string>;
}

/** The memory a model takes on a shard: max(declared, reported). */
export function footprint(model: PoolModel): number {
  return Math.max(model.memoryBytes, model.reportedBytes ?? 0);
}

/** Places `models` given the current `shards`. */
export function placeModels(
  models: readonly PoolModel[],
  current: readonly Shard[],
  limits: PlacementLimits,
): Placement {
  const byName = new Map(models.map((m) => [m.name, m]));
  const shards = new Map<number, PoolModel[]>();
  for (const shard of [...current].sort((a, b) => a.index - b.index)) {
    shards.set(shard.index, keepFitting(shard.models, byName, limits.capacityBytes));
  }
  const placed = new Set([...shards.values()].flat().map((m) => m.name));
  const unplaced = new Map<string, string>();
  for (const model of [...models].sort(firstCome)) {
    if (placed.has(model.name)) continue;
    const reason = place(model, shards, limits);
    if (reason === undefined) placed.add(model.name);
    else unplaced.set(model.name, reason);
  }
  return {
    shards: [...shards.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, ms]) => ({ index, models: ms.map((m) => m.name).sort() })),
    unplaced,
  };
}

/** The models of a shard that still exist and still fit, oldest first (evicting the newest). */
function keepFitting(
  names: readonly string[],
  byName: ReadonlyMap<string, PoolModel>,
  capacity: number,
): PoolModel[] {
  const kept: PoolModel[] = [];
  let used = 0;
  const seen = new Set<string>();
  const present = names.flatMap((n) => {
    const m = byName.get(n);
    return m === undefined ? [] : [m];
  });
  for (const model of present.sort(firstCome)) {
    if (used + footprint(model) > capacity || seen.has(model.servedName)) continue;
    kept.push(model);
    used += footprint(model);
    seen.add(model.servedName);
  }
  return kept;
}

function place(
  model: PoolModel,
  shards: Map<number, PoolModel[]>,
  limits: PlacementLimits,
): string | undefined {
  if (footprint(model) > limits.capacityBytes) {
    return `the model ${sizeOf(model)}, more than the runtime's capacity of ${formatBytes(limits.capacityBytes)} per server`;
  }
  for (const [, ms] of [...shards.entries()].sort(([a], [b]) => a - b)) {
    if (fits(model, ms, limits.capacityBytes)) {
      ms.push(model);
      return undefined;
    }
  }
  if (shards.size >= limits.maxShards) {
    return `the pool is full: all ${limits.maxShards} servers lack ${formatBytes(footprint(model))} of free memory or already serve a model named ${model.servedName}`;
  }
  let index = 0;
  while (shards.has(index)) index++;
  shards.set(index, [model]);
  return undefined;
}

function fits(model: PoolModel, on: readonly PoolModel[], capacity: number): boolean {
  const used = on.reduce((sum, m) => sum + footprint(m), 0);
  return used + footprint(model) <= capacity && !on.some((m) => m.servedName === model.servedName);
}

/** How big the model is, in the words of where the figure comes from. */
function sizeOf(model: PoolModel): string {
  const declared = `declares ${formatBytes(model.memoryBytes)} of memory`;
  return model.reportedBytes !== undefined && model.reportedBytes > model.memoryBytes
    ? `holds ${formatBytes(model.reportedBytes)} of memory as its servers report (it ${declared})`
    : declared;
}

function firstCome(a: PoolModel, b: PoolModel): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
