/**
 * Adaptive batching of one loaded model version (MLServer's `max_batch_size` / `max_batch_time`,
 * mlserver/batching/adaptive.py; Triton's dynamic batcher for the statistics it reports).
 *
 * Validated requests whose inputs agree in names, datatypes, trailing dimensions and parameters
 * wait in a group; the group is executed as one runtime call when it holds `maxBatchSize` rows or
 * `maxBatchTimeMs` after its first request arrived, whichever comes first. Inputs are concatenated
 * along dimension 0 into one preallocated typed array each; outputs are split back by each
 * request's row count as views over the batched output (no copy).
 *
 * One bad request never fails the others: a request whose own validation fails never reaches the
 * batcher (the data plane decodes first), and when a batched call fails (or its outputs cannot be
 * split) every member is retried alone, so each gets its own answer or its own error.
 *
 * Parameters: V2 parameters cannot hold lists, so MLServer's "scalars of different requests become
 * a list" cannot be expressed; requests join only when their request and tensor parameters are
 * equal (except `headers`), and any others run in a group of their own. Response and output
 * parameters are copied to every member, as MLServer does for scalars. The batched call carries
 * the first member's id and headers.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode, ServerError, shorten } from '../errors.js';
import type { RuntimeResult } from './model-runtime.js';
import type { DecodedRequest, Parameters, Tensor, TensorValues } from './types.js';

/** The runtime call the batcher makes: one (possibly batched) request. */
export type BatchRun = (
  request: DecodedRequest,
  options: { readonly outputNames?: readonly string[] },
) => Promise<RuntimeResult>;

/** One runtime execution, for statistics and metrics (durations in milliseconds). */
export interface BatchExecution {
  /** Rows (first-dimension entries) the runtime saw. */
  readonly rows: number;
  /** Requests the execution served. */
  readonly requests: number;
  readonly concatMs: number;
  readonly inferMs: number;
  readonly splitMs: number;
}

/** Settings of one batcher. */
export interface AdaptiveBatcherOptions {
  /** The model's name, for messages. */
  readonly model: string;
  /** Most rows in one execution (`max_batch_size`, > 1). */
  readonly maxBatchSize: number;
  /** Longest wait after a group's first request (`max_batch_time` in ms, > 0). */
  readonly maxBatchTimeMs: number;
  /** Most requests waiting at once; one more is refused with OVERLOADED (503 / UNAVAILABLE). */
  readonly maxQueued: number;
  readonly run: BatchRun;
  readonly onExecution?: (execution: BatchExecution) => void;
}

/** A member's answer: its part of the result and when its execution began. */
export interface BatchedResult {
  readonly result: RuntimeResult;
  /** `performance.now()` when the member left the queue (its queue time ends here). */
  readonly dispatched: number;
}

interface Member {
  readonly request: DecodedRequest;
  readonly rows: number;
  readonly resolve: (value: BatchedResult) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Group {
  readonly key: string;
  readonly outputNames: readonly string[] | undefined;
  readonly members: Member[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

/** Batches one model version's requests; see the module comment. */
export class AdaptiveBatcher {
  readonly #options: AdaptiveBatcherOptions;
  readonly #groups = new Map<string, Group>();
  #queued = 0;

  constructor(options: AdaptiveBatcherOptions) {
    this.#options = options;
  }

  /** Requests waiting for their batch. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Runs a validated request, batched with others when it can be. Settles once the runtime call
   * serving it settled (callers keep the model leased until then); rejects with CANCELLED when
   * `signal` aborts while the request still waits, and with OVERLOADED when the queue is full.
   */
  submit(
    request: DecodedRequest,
    options: { readonly outputNames?: readonly string[]; readonly signal?: AbortSignal } = {},
  ): Promise<BatchedResult> {
    const { outputNames, signal } = options;
    const rows = batchRows(request.inputs);
    if (rows === undefined || rows >= this.#options.maxBatchSize) {
      // Nothing to join (no common batch dimension) or a full batch already: run at once, alone.
      return this.#runAlone(request, outputNames);
    }
    if (signal?.aborted === true) return Promise.reject(this.#cancelled());
    if (this.#queued >= this.#options.maxQueued) {
      return Promise.reject(
        new ServerError(
          ErrorCode.OVERLOADED,
          `model '${shorten(this.#options.model)}' has ${this.#queued} requests waiting for a batch (the most it queues); retry later`,
        ),
      );
    }
    const key = groupKey(request, outputNames);
    return new Promise<BatchedResult>((resolve, reject) => {
      const member: Member = { request, rows, resolve, reject, signal, onAbort: undefined };
      let group = this.#groups.get(key);
      if (group !== undefined && group.rows + rows > this.#options.maxBatchSize) {
        this.#flush(group);
        group = undefined;
      }
      if (group === undefined) {
        group = { key, outputNames, members: [], rows: 0, timer: undefined };
        const created = group;
        this.#groups.set(key, group);
        group.timer = setTimeout(() => {
          this.#flush(created);
        }, this.#options.maxBatchTimeMs);
      }
      group.members.push(member);
      group.rows += rows;
      this.#queued++;
      if (signal !== undefined) {
        const owner = group;
        member.onAbort = () => {
          this.#leave(owner, member);
        };
        signal.addEventListener('abort', member.onAbort, { once: true });
      }
      if (group.rows >= this.#options.maxBatchSize) this.#flush(group);
    });
  }

  /** A waiting member's signal aborted: it leaves its group; the others stay. */
  #leave(group: Group, member: Member): void {
    const index = group.members.indexOf(member);
    if (index < 0) return;
    group.members.splice(index, 1);
    group.rows -= member.rows;
    this.#queued--;
    if (group.members.length === 0) {
      clearTimeout(group.timer);
      if (this.#groups.get(group.key) === group) this.#groups.delete(group.key);
    }
    member.reject(this.#cancelled());
  }

  #flush(group: Group): void {
    clearTimeout(group.timer);
    if (this.#groups.get(group.key) === group) this.#groups.delete(group.key);
    const members = group.members.splice(0);
    this.#queued -= members.length;
    for (const m of members) {
      if (m.onAbort !== undefined) m.signal?.removeEventListener('abort', m.onAbort);
    }
    if (members.length === 0) return;
    const [first] = members;
    if (members.length === 1 && first !== undefined) {
      this.#runAlone(first.request, group.outputNames).then(first.resolve, first.reject);
      return;
    }
    void this.#runBatch(members, group.rows, group.outputNames);
  }

  async #runBatch(
    members: readonly Member[],
    rows: number,
    outputNames: readonly string[] | undefined,
  ): Promise<void> {
    const dispatched = performance.now();
    let parts: RuntimeResult[];
    let concatDone = dispatched;
    let inferDone = dispatched;
    try {
      const batched = concatenate(members, rows);
      concatDone = performance.now();
      const result = await this.#options.run(batched, outputNamesOption(outputNames));
      inferDone = performance.now();
      parts = split(result, members, rows);
    } catch {
      // Whatever failed (one member's rows the model rejects, an output without a batch
      // dimension), every member is retried alone so that each gets its own answer.
      for (const m of members) this.#runAlone(m.request, outputNames).then(m.resolve, m.reject);
      return;
    }
    const finished = performance.now();
    this.#options.onExecution?.({
      rows,
      requests: members.length,
      concatMs: concatDone - dispatched,
      inferMs: inferDone - concatDone,
      splitMs: finished - inferDone,
    });
    members.forEach((m, i) => {
      const result = parts[i];
      if (result !== undefined) m.resolve({ result, dispatched });
    });
  }

  async #runAlone(
    request: DecodedRequest,
    outputNames: readonly string[] | undefined,
  ): Promise<BatchedResult> {
    const dispatched = performance.now();
    const result = await this.#options.run(request, outputNamesOption(outputNames));
    const inferMs = performance.now() - dispatched;
    this.#options.onExecution?.({
      rows: batchRows(request.inputs) ?? 1,
      requests: 1,
      concatMs: 0,
      inferMs,
      splitMs: 0,
    });
    return { result, dispatched };
  }

  #cancelled(): ServerError {
    return new ServerError(
      ErrorCode.CANCELLED,
      `request for model '${shorten(this.#options.model)}' was cancelled`,
    );
  }
}

function outputNamesOption(names: readonly string[] | undefined): {
  outputNames?: readonly string[];
} {
  return names === undefined ? {} : { outputNames: names };
}

/** The rows of a request: the first dimension every input shares; undefined when they differ. */
export function batchRows(inputs: readonly Tensor[]): number | undefined {
  let rows: number | undefined;
  for (const t of inputs) {
    const first = t.shape[0];
    if (first === undefined || first < 1) return undefined;
    if (rows === undefined) rows = first;
    else if (rows !== first) return undefined;
  }
  return rows;
}

/** What requests must share to join one batch: inputs (name, datatype, trailing dims), parameters, outputs. */
function groupKey(request: DecodedRequest, outputNames: readonly string[] | undefined): string {
  let key = outputNames === undefined ? '*' : JSON.stringify(outputNames);
  key += '|' + parametersKey(request.parameters);
  for (const t of request.inputs) {
    key += `|${JSON.stringify(t.name)}:${t.datatype}:${t.shape.slice(1).join('x')}`;
    if (t.parameters !== undefined) key += ':' + parametersKey(t.parameters);
  }
  return key;
}

function parametersKey(parameters: Parameters): string {
  const entries = Object.entries(parameters).filter(([name]) => name !== 'headers');
  if (entries.length === 0) return '';
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

/** One request whose inputs are the members' inputs concatenated along dimension 0. */
function concatenate(members: readonly Member[], rows: number): DecodedRequest {
  const first = members[0];
  if (first === undefined) throw new Error('empty batch');
  const inputs = first.request.inputs.map((t, index): Tensor => {
    const parts = members.map((m) => {
      const part = m.request.inputs[index];
      if (part === undefined) throw new Error('batch members differ in inputs');
      return part.data;
    });
    return {
      name: t.name,
      datatype: t.datatype,
      shape: [rows, ...t.shape.slice(1)],
      data: concatValues(parts),
      ...(t.parameters === undefined ? {} : { parameters: t.parameters }),
    };
  });
  return {
    id: first.request.id,
    parameters: first.request.parameters,
    inputs,
    ...(first.request.outputs === undefined ? {} : { outputs: first.request.outputs }),
  };
}

type TypedArray = Exclude<TensorValues, readonly Uint8Array[]>;
type TypedArrayConstructor = new (length: number) => TypedArray;

/** Joins same-typed tensor data into one new array of the total length (one allocation). */
function concatValues(parts: readonly TensorValues[]): TensorValues {
  const [head] = parts;
  if (head === undefined) throw new Error('empty batch');
  if (Array.isArray(head)) return (parts as readonly (readonly Uint8Array[])[]).flat();
  let total = 0;
  for (const p of parts) total += p.length;
  const Ctor = head.constructor as TypedArrayConstructor;
  const out = new Ctor(total);
  let offset = 0;
  for (const p of parts as readonly TypedArray[]) {
    // Same constructor by construction (the group key includes the datatype).
    (out as Float64Array).set(p as Float64Array, offset);
    offset += p.length;
  }
  return out;
}

/** Splits a batched result by each member's rows; throws when an output has no batch dimension. */
function split(result: RuntimeResult, members: readonly Member[], rows: number): RuntimeResult[] {
  for (const t of result.outputs) {
    if (t.shape[0] !== rows || t.data.length % rows !== 0) {
      throw new Error(`output '${t.name}' has no batch dimension of ${rows}`);
    }
  }
  let row = 0;
  return members.map((m) => {
    const start = row;
    row += m.rows;
    const outputs = result.outputs.map((t): Tensor => {
      const perRow = t.data.length / rows;
      return {
        name: t.name,
        datatype: t.datatype,
        shape: [m.rows, ...t.shape.slice(1)],
        data: sliceValues(t.data, start * perRow, (start + m.rows) * perRow),
        ...(t.parameters === undefined ? {} : { parameters: t.parameters }),
      };
    });
    return {
      outputs,
      ...(result.parameters === undefined ? {} : { parameters: result.parameters }),
    };
  });
}

/** A view (typed arrays) or a shallow slice (BYTES) of `[begin, end)`. */
function sliceValues(data: TensorValues, begin: number, end: number): TensorValues {
  if (Array.isArray(data)) return (data as readonly Uint8Array[]).slice(begin, end);
  return (data as TypedArray).subarray(begin, end);
}
