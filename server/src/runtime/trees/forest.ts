/**
 * A forest of decision trees as flat typed arrays (structure of arrays), shared by the XGBoost and
 * LightGBM evaluators. Every tree's internal nodes and leaves live in the same few arrays, so a
 * model of thousands of trees is a handful of allocations, and walking a tree touches contiguous
 * memory instead of chasing objects.
 *
 * A child reference is an internal node's index (>= 0) or `~leaf` (< 0) for a leaf's index.
 */

/** Node flag: the split tests a category set rather than a threshold. */
export const NODE_CATEGORICAL = 1;
/** Node flag: a missing value goes to the left child. */
export const NODE_DEFAULT_LEFT = 2;
/** LightGBM's missing type lives in bits 2–3 (tree.h `GetMissingType`): 0 None, 1 Zero, 2 NaN. */
export const MISSING_SHIFT = 2;

/** The flat forest. Arrays are indexed by internal node, by leaf, or by tree. */
export interface Forest {
  /** Per internal node: feature index. */
  readonly feature: Int32Array;
  /** Per internal node: threshold (XGBoost: float32 values; LightGBM: doubles). */
  readonly threshold: Float64Array;
  /** Per internal node: left and right child references. */
  readonly left: Int32Array;
  readonly right: Int32Array;
  /** Per internal node: NODE_* flags and the missing type. */
  readonly flags: Uint8Array;
  /** Per internal node: start and word count of its category bitset in `catBits`. */
  readonly catStart: Int32Array;
  readonly catWords: Int32Array;
  /** Category bitsets, 32 categories a word, category c at bit c % 32 of word c / 32. */
  readonly catBits: Uint32Array;
  /** Per leaf: `leafSize` values (more than one for XGBoost's multi-output trees). */
  readonly leafValue: Float64Array;
  readonly leafSize: number;
  /** Per tree: root reference, output column it adds to, and its weight (DART). */
  readonly root: Int32Array;
  readonly group: Int32Array;
  readonly weight: Float64Array;
  /** LightGBM linear trees: per leaf, a constant and coefficients on features (CSR). */
  readonly linear?: LinearLeaves;
  /** Per tree: whether its leaves are linear models. */
  readonly treeLinear?: Uint8Array;
}

/** Linear-leaf models in CSR form: leaf i uses entries `start[i]..start[i+1]`. */
export interface LinearLeaves {
  readonly constant: Float64Array;
  readonly start: Int32Array;
  readonly feature: Int32Array;
  readonly coeff: Float64Array;
}

/** One tree as a parser reads it, in the source's own node numbering. */
export interface TreeSpec {
  /** Per source node: -1 for a leaf, else the left child's source index. */
  readonly left: ArrayLike<number>;
  readonly right: ArrayLike<number>;
  readonly feature: ArrayLike<number>;
  readonly threshold: ArrayLike<number>;
  readonly flags: ArrayLike<number>;
  /** Category sets by source node, for categorical nodes. */
  readonly categories?: ReadonlyMap<number, readonly number[]>;
  /** Leaf values by source node (`leafSize` per node). */
  readonly leafValue: (node: number, out: number[]) => void;
  readonly group: number;
  readonly weight: number;
}

/** Grows a {@link Forest} tree by tree, then packs it into typed arrays. */
export class ForestBuilder {
  readonly #leafSize: number;
  readonly #feature: number[] = [];
  readonly #threshold: number[] = [];
  readonly #left: number[] = [];
  readonly #right: number[] = [];
  readonly #flags: number[] = [];
  readonly #catStart: number[] = [];
  readonly #catWords: number[] = [];
  readonly #catBits: number[] = [];
  readonly #leafValue: number[] = [];
  readonly #root: number[] = [];
  readonly #group: number[] = [];
  readonly #weight: number[] = [];

  constructor(leafSize = 1) {
    this.#leafSize = leafSize;
  }

  /** The number of leaves added so far (their indices are 0..leafCount-1). */
  get leafCount(): number {
    return this.#leafValue.length / this.#leafSize;
  }

  /**
   * Adds a tree given in the XGBoost layout (children by source index, -1 marking a leaf). Source
   * indices are renumbered: internal nodes and leaves each get the next free global index.
   */
  addTree(tree: TreeSpec): void {
    const count = tree.left.length;
    const ref = new Int32Array(count);
    const values: number[] = [];
    for (let node = 0; node < count; node++) {
      if (num(tree.left[node]) === -1) {
        ref[node] = ~this.leafCount;
        values.length = 0;
        tree.leafValue(node, values);
        for (let k = 0; k < this.#leafSize; k++) this.#leafValue.push(values[k] ?? 0);
      } else {
        ref[node] = this.#feature.length;
        this.#feature.push(num(tree.feature[node]));
        this.#threshold.push(num(tree.threshold[node]));
        this.#flags.push(num(tree.flags[node]));
        this.#left.push(0);
        this.#right.push(0);
        this.#addCategories(tree.categories?.get(node));
      }
    }
    for (let node = 0; node < count; node++) {
      const index = ref[node] ?? 0;
      if (index < 0) continue;
      this.#left[index] = childRef(ref, tree.left[node]);
      this.#right[index] = childRef(ref, tree.right[node]);
    }
    this.#root.push(count === 0 ? ~this.leafCount : (ref[0] ?? 0));
    if (count === 0) for (let k = 0; k < this.#leafSize; k++) this.#leafValue.push(0);
    this.#group.push(tree.group);
    this.#weight.push(tree.weight);
  }

  #addCategories(categories: readonly number[] | undefined): void {
    this.#catStart.push(this.#catBits.length);
    if (categories === undefined || categories.length === 0) {
      this.#catWords.push(0);
      return;
    }
    const words = Math.floor(Math.max(...categories) / 32) + 1;
    const start = this.#catBits.length;
    for (let w = 0; w < words; w++) this.#catBits.push(0);
    for (const category of categories) {
      const word = start + Math.floor(category / 32);
      this.#catBits[word] = ((this.#catBits[word] ?? 0) | (1 << (category % 32))) >>> 0;
    }
    this.#catWords.push(words);
  }

  /** Packs the trees into typed arrays. */
  build(extra: Pick<Forest, 'linear' | 'treeLinear'> = {}): Forest {
    return {
      feature: Int32Array.from(this.#feature),
      threshold: Float64Array.from(this.#threshold),
      left: Int32Array.from(this.#left),
      right: Int32Array.from(this.#right),
      flags: Uint8Array.from(this.#flags),
      catStart: Int32Array.from(this.#catStart),
      catWords: Int32Array.from(this.#catWords),
      catBits: Uint32Array.from(this.#catBits),
      leafValue: Float64Array.from(this.#leafValue),
      leafSize: this.#leafSize,
      root: Int32Array.from(this.#root),
      group: Int32Array.from(this.#group),
      weight: Float64Array.from(this.#weight),
      ...extra,
    };
  }
}

/**
 * The bytes a forest's typed arrays hold: the exact memory of a compiled tree model, apart from
 * the few fixed-size objects around the arrays. Reported as the model's `memory_bytes`.
 */
export function forestBytes(forest: Forest): number {
  const arrays: ArrayBufferView[] = [
    forest.feature,
    forest.threshold,
    forest.left,
    forest.right,
    forest.flags,
    forest.catStart,
    forest.catWords,
    forest.catBits,
    forest.leafValue,
    forest.root,
    forest.group,
    forest.weight,
  ];
  if (forest.treeLinear !== undefined) arrays.push(forest.treeLinear);
  const { linear } = forest;
  if (linear !== undefined)
    arrays.push(linear.constant, linear.start, linear.feature, linear.coeff);
  return arrays.reduce((sum, a) => sum + a.byteLength, 0);
}

function num(value: number | undefined): number {
  return value ?? 0;
}

function childRef(ref: Int32Array, source: number | undefined): number {
  const target = ref[num(source)];
  if (target === undefined) throw new Error(`a child index (${String(source)}) is out of range`);
  return target;
}

/** Whether `category` is in the node's bitset (categories beyond the bitset are not). */
export function inCategorySet(forest: Forest, node: number, category: number): boolean {
  const word = category >>> 5;
  if (word >= (forest.catWords[node] ?? 0)) return false;
  const bits = forest.catBits[(forest.catStart[node] ?? 0) + word] ?? 0;
  return ((bits >>> (category & 31)) & 1) === 1;
}
