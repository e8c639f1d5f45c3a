/**
 * The response cache (MLServer's `cache_enabled` / `cache_size`, mlserver-features.md §16;
 * Triton's response cache, reported in the statistics extension as `cache_hit` / `cache_miss`):
 * one server-wide LRU of runtime results, keyed on the model version and the request's content,
 * so a request that repeats an earlier one is answered without calling the runtime.
 *
 * The key is a SHA-256 of what decides the runtime's answer: the loaded version (a reload starts
 * afresh), the decoded inputs (name, datatype, shape, parameters and the bytes of the data, so the
 * same tensor sent as JSON, binary or gRPC contents hits the same entry), the request's parameters
 * and the outputs asked for. The request id and headers are left out (Triton's key leaves the id
 * out; MLServer sets the id on the answer after the lookup): a cached answer carries the id of the
 * request it answers. What is cached is the runtime's result before it is encoded, so each
 * request's content types and transport choices (binary outputs, shared memory) still apply.
 *
 * Bounded twice: at most `maxEntries` answers (MLServer's `cache_size`) and `maxBytes` of tensor
 * data; an answer bigger than `maxBytes` is not kept. Cached results are shared between the
 * requests they answer and are never written to (encoders copy what they change).
 */
import { createHash, type Hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RuntimeResult } from './model-runtime.js';
import type { Parameters, Tensor } from './types.js';

/** Bounds of a {@link ResponseCache}. */
export interface ResponseCacheOptions {
  /** Answers kept at most (settings `cache_size`). */
  readonly maxEntries: number;
  /** Bytes of tensor data kept at most (settings `cache_max_bytes`). */
  readonly maxBytes: number;
  /** Called once per answer evicted to make room (metrics). */
  readonly onEvict?: () => void;
}

/** What a cached request is: enough to tell two requests apart, nothing that does not matter. */
export interface CacheableRequest {
  readonly inputs: readonly Tensor[];
  readonly parameters?: Parameters | undefined;
  readonly outputNames?: readonly string[] | undefined;
}

const SEPARATOR = Buffer.from([0]);

/**
 * Parameters that say how tensors travel, not what they hold (the binary tensor extension, shared
 * memory, the headers the data plane adds): left out of the key so that one request sent two
 * ways is one entry.
 */
const TRANSPORT_PARAMETERS = new Set([
  'binary_data_size',
  'binary_data',
  'binary_data_output',
  'shared_memory_region',
  'shared_memory_byte_size',
  'shared_memory_offset',
  'headers',
]);

/** A parameters object as key text: transport parameters dropped, keys sorted. */
function parametersKey(params: Parameters | undefined): string {
  if (params === undefined) return '{}';
  const kept = Object.keys(params).filter((k) => !TRANSPORT_PARAMETERS.has(k));
  return stableJson(Object.fromEntries(kept.map((k) => [k, params[k]])));
}

/** A server-wide LRU of runtime results (see the file comment). */
export class ResponseCache {
  readonly #entries: LRUCache<string, RuntimeResult>;
  /** A number per loaded version, so a reloaded model never answers from its predecessor. */
  readonly #scopes = new WeakMap<object, number>();
  #nextScope = 1;

  constructor(options: ResponseCacheOptions) {
    this.#entries = new LRUCache<string, RuntimeResult>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: resultBytes,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') options.onEvict?.();
      },
    });
  }

  /** The key of `request` for the loaded version `scope` (any object that lives as long as it). */
  key(scope: object, request: CacheableRequest): string {
    let id = this.#scopes.get(scope);
    if (id === undefined) {
      id = this.#nextScope++;
      this.#scopes.set(scope, id);
    }
    const hash = createHash('sha256');
    hash.update(`${String(id)}\0${parametersKey(request.parameters)}\0`);
    hash.update(`${stableJson(request.outputNames ?? null)}\0`);
    for (const tensor of request.inputs) hashTensor(hash, tensor);
    return hash.digest('base64');
  }

  get(key: string): RuntimeResult | undefined {
    return this.#entries.get(key);
  }

  set(key: string, result: RuntimeResult): void {
    this.#entries.set(key, result);
  }

  /** Answers held now. */
  get size(): number {
    return this.#entries.size;
  }
}

function hashTensor(hash: Hash, tensor: Tensor): void {
  hash.update(
    `${tensor.name}\0${tensor.datatype}\0${tensor.shape.join(',')}\0${parametersKey(tensor.parameters)}\0`,
  );
  const data = tensor.data;
  if (Array.isArray(data)) {
    // BYTES: each element's length first, so ["ab", "c"] and ["a", "bc"] differ.
    const length = Buffer.alloc(4);
    for (const element of data as readonly Uint8Array[]) {
      length.writeUInt32LE(element.byteLength);
      hash.update(length);
      hash.update(element);
    }
  } else {
    const view = data as Exclude<Tensor['data'], readonly Uint8Array[]>;
    hash.update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  }
  hash.update(SEPARATOR);
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` give one key. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : typeof v === 'bigint'
        ? v.toString()
        : v,
  );
}

/** The bytes an answer holds: its tensor data (BYTES elements with their lengths), at least 1. */
function resultBytes(result: RuntimeResult): number {
  let bytes = 1;
  for (const tensor of result.outputs) {
    const data = tensor.data;
    if (Array.isArray(data)) {
      for (const element of data as readonly Uint8Array[]) bytes += 4 + element.byteLength;
    } else {
      bytes += (data as Exclude<Tensor['data'], readonly Uint8Array[]>).byteLength;
    }
  }
  return bytes;
}
