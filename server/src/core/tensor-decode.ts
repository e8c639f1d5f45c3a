/**
 * Decoding and validation of request tensors, shared by REST and gRPC so that both report the same
 * errors in the same words (reliability-catalogue §4 A1–A4). Nothing here allocates more than the
 * data that actually arrived: counts are checked against the shape before any typed array is built.
 */
import { invalidInput, isWellFormed, shorten } from '../errors.js';
import { ELEMENT_SIZE, INTEGER_RANGE, RAW_ONLY, isDatatype, type Datatype } from './datatype.js';
import { elementCount, formatShape, parseShape } from './shape.js';
import type { RequestInput, Tensor, TensorValues, WireData } from './types.js';

/** How a content type changes decoding (core/codecs). */
export interface DecodeOptions {
  /**
   * JSON `null` in FP32/FP64 data is NaN: MLServer allows it for the `np` and `pd` content types,
   * since JSON has no NaN (mlserver-features.md §8.2 "NaN support").
   */
  readonly nullAsNaN?: boolean;
}

/** Validates one request input and returns it with decoded, typed data. */
export function decodeTensor(input: RequestInput, options: DecodeOptions = {}): Tensor {
  // `name` is only for messages; the tensor keeps the full name.
  const name = shorten(input.name);
  if (!isDatatype(input.datatype)) {
    throw invalidInput(`input '${name}': unknown datatype '${shorten(input.datatype)}'`);
  }
  const datatype = input.datatype;
  const shape = parseShape(name, input.shape);
  const count = elementCount(name, shape);
  const wire =
    options.nullAsNaN === true && (datatype === 'FP32' || datatype === 'FP64')
      ? nullsAsNaN(input.data)
      : input.data;
  const data = decodeData(name, datatype, shape, count, wire);
  return input.parameters === undefined
    ? { name: input.name, datatype, shape, data }
    : { name: input.name, datatype, shape, data, parameters: input.parameters };
}

/** JSON data with `null` elements replaced by NaN; other data is returned as it is. */
function nullsAsNaN(data: WireData): WireData {
  if (data.kind !== 'json') return data;
  if (data.value === null) return { kind: 'json', value: Number.NaN };
  if (!Array.isArray(data.value)) return data;
  const flat = flatten(data.value as unknown[]);
  if (!flat.includes(null)) return data;
  return { kind: 'json', value: flat.map((v) => (v === null ? Number.NaN : v)) };
}

function decodeData(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  data: WireData,
): TensorValues {
  switch (data.kind) {
    case 'raw':
      return decodeRaw(name, datatype, shape, count, data.bytes);
    case 'json': {
      if (RAW_ONLY.has(datatype)) {
        throw invalidInput(`input '${name}': ${datatype} data must be sent as binary, not JSON`);
      }
      if (!Array.isArray(data.value)) {
        if (data.value === undefined) throw invalidInput(`input '${name}': 'data' is missing`);
        if (typeof data.value === 'object' && data.value !== null) {
          throw invalidInput(
            `input '${name}': 'data' must be an array (or a bare scalar), got an object`,
          );
        }
        // A scalar with an empty shape may be sent bare (`"data": 3`).
        return decodeList(name, datatype, shape, count, [data.value]);
      }
      return decodeList(name, datatype, shape, count, flatten(data.value as unknown[]));
    }
    case 'shm':
      // The data plane reads shared memory before decoding; only streams get here.
      throw invalidInput(
        `input '${name}': shared memory is read for unary inference (infer, ModelInfer), not for streams`,
      );
    case 'list':
      // Checked before the element count: FP16/BF16 have no typed field, so a count would mislead.
      if (RAW_ONLY.has(datatype)) {
        throw invalidInput(
          `input '${name}': ${datatype} data must be sent as raw bytes, not typed contents`,
        );
      }
      return decodeList(name, datatype, shape, count, data.values);
  }
}

/** Flattens nested `data` (row-major); flat arrays are returned as they are, without copying. */
export function flatten(value: readonly unknown[]): readonly unknown[] {
  if (!value.some(Array.isArray)) return value;
  const out: unknown[] = [];
  const stack: { items: readonly unknown[]; index: number }[] = [{ items: value, index: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top === undefined) break;
    if (top.index >= top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.index++];
    if (Array.isArray(item)) stack.push({ items: item, index: 0 });
    else out.push(item);
  }
  return out;
}

function countMismatch(name: string, shape: readonly number[], count: number, got: number): never {
  throw invalidInput(
    `input '${name}': shape ${formatShape(shape)} needs ${count} elements, got ${got}`,
  );
}

type SmallIntArray = Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array;
type ListDecoder = (name: string, values: ArrayLike<unknown>, count: number) => TensorValues;

const rawOnly =
  (datatype: Datatype): ListDecoder =>
  (name) => {
    throw invalidInput(`input '${name}': ${datatype} data must be sent as binary`);
  };

/** How list values (JSON `data`, gRPC typed contents) of each datatype become a typed array. */
const LIST_DECODERS: Readonly<Record<Datatype, ListDecoder>> = {
  BOOL: (name, values) => decodeBools(name, values),
  BYTES: (name, values) => decodeStrings(name, values),
  FP32: (name, values, count) => decodeFloats(name, values, new Float32Array(count)),
  FP64: (name, values, count) => decodeFloats(name, values, new Float64Array(count)),
  INT64: (name, values, count) => decodeBigInts(name, 'INT64', values, new BigInt64Array(count)),
  UINT64: (name, values, count) => decodeBigInts(name, 'UINT64', values, new BigUint64Array(count)),
  UINT8: (name, values, count) => decodeInts(name, 'UINT8', values, new Uint8Array(count)),
  UINT16: (name, values, count) => decodeInts(name, 'UINT16', values, new Uint16Array(count)),
  UINT32: (name, values, count) => decodeInts(name, 'UINT32', values, new Uint32Array(count)),
  INT8: (name, values, count) => decodeInts(name, 'INT8', values, new Int8Array(count)),
  INT16: (name, values, count) => decodeInts(name, 'INT16', values, new Int16Array(count)),
  INT32: (name, values, count) => decodeInts(name, 'INT32', values, new Int32Array(count)),
  FP16: rawOnly('FP16'),
  BF16: rawOnly('BF16'),
};

function decodeList(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  values: ArrayLike<unknown>,
): TensorValues {
  if (values.length !== count) countMismatch(name, shape, count, values.length);
  return LIST_DECODERS[datatype](name, values, count);
}

function badElement(name: string, datatype: Datatype, index: number, value: unknown): never {
  const shown = typeof value === 'string' ? `"${value.slice(0, 32)}"` : String(value);
  throw invalidInput(
    `input '${name}': element ${index} (${shown}) is not a valid ${datatype} value`,
  );
}

function decodeBools(name: string, values: ArrayLike<unknown>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === true || v === 1) out[i] = 1;
    else if (v !== false && v !== 0) badElement(name, 'BOOL', i, v);
  }
  return out;
}

function decodeFloats<T extends Float32Array | Float64Array>(
  name: string,
  values: ArrayLike<unknown>,
  out: T,
): T {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number')
      badElement(name, out instanceof Float32Array ? 'FP32' : 'FP64', i, v);
    // A finite number beyond FP32's range would silently become ±Infinity.
    if (out instanceof Float32Array && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
      badElement(name, 'FP32', i, v);
    }
    out[i] = v;
  }
  return out;
}

function decodeInts<T extends SmallIntArray>(
  name: string,
  datatype: Datatype,
  values: ArrayLike<unknown>,
  out: T,
): T {
  const [min, max] = INTEGER_RANGE[datatype] ?? [0, 0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      badElement(name, datatype, i, v);
    }
    out[i] = v;
  }
  return out;
}

function decodeBigInts<T extends BigInt64Array | BigUint64Array>(
  name: string,
  datatype: 'INT64' | 'UINT64',
  values: ArrayLike<unknown>,
  out: T,
): T {
  const [min, max] = datatype === 'INT64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let big: bigint;
    if (typeof v === 'bigint') big = v;
    else if (typeof v === 'number' && Number.isInteger(v)) big = BigInt(v);
    else badElement(name, datatype, i, v);
    if (big < min || big > max) badElement(name, datatype, i, v);
    out[i] = big;
  }
  return out;
}

const utf8 = new TextEncoder();

function decodeStrings(name: string, values: ArrayLike<unknown>): Uint8Array[] {
  const out = new Array<Uint8Array>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string') {
      // A lone surrogate (`"\ud800"` is valid JSON) has no UTF-8 form; encode() would replace it.
      if (!isWellFormed(v)) {
        throw invalidInput(
          `input '${name}': BYTES element ${i} is not valid Unicode text (it has a lone surrogate); send such data as binary`,
        );
      }
      out[i] = utf8.encode(v);
    } else if (v instanceof Uint8Array) out[i] = v;
    else badElement(name, 'BYTES', i, v);
  }
  return out;
}

/** Decodes little-endian row-major bytes (binary extension / raw contents) without copying when aligned. */
export function decodeRaw(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  bytes: Uint8Array,
): TensorValues {
  if (datatype === 'BYTES') return decodeRawStrings(name, shape, count, bytes);
  const size = ELEMENT_SIZE[datatype];
  const expected = count * size;
  if (bytes.byteLength !== expected) {
    throw invalidInput(
      `input '${name}': ${datatype} shape ${formatShape(shape)} needs ${expected} bytes, got ${bytes.byteLength}`,
    );
  }
  // Typed-array views need aligned offsets; Buffers from a pool often are not, so copy then.
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  if (datatype === 'BOOL') {
    for (const b of aligned)
      if (b > 1) throw invalidInput(`input '${name}': BOOL bytes must be 0 or 1`);
    return aligned;
  }
  if (datatype === 'UINT8') return aligned;
  return new RAW_VIEWS[datatype](aligned.buffer, aligned.byteOffset, count);
}

type RawView = Exclude<TensorValues, readonly Uint8Array[]>;

/** Typed-array views over raw little-endian bytes, for every fixed-size datatype but BOOL and UINT8. */
const RAW_VIEWS: Readonly<
  Record<
    Exclude<Datatype, 'BYTES' | 'BOOL' | 'UINT8'>,
    new (buffer: ArrayBufferLike, offset: number, length: number) => RawView
  >
> = {
  INT8: Int8Array,
  UINT16: Uint16Array,
  FP16: Uint16Array,
  BF16: Uint16Array,
  INT16: Int16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  UINT64: BigUint64Array,
  INT64: BigInt64Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

/** Parses BYTES elements, each a 4-byte little-endian length followed by that many bytes. */
function decodeRawStrings(
  name: string,
  shape: readonly number[],
  count: number,
  bytes: Uint8Array,
): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (out.length === count) break;
    if (offset + 4 > bytes.byteLength) {
      throw invalidInput(
        `input '${name}': BYTES element ${out.length} has a truncated length prefix`,
      );
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw invalidInput(
        `input '${name}': BYTES element ${out.length} declares ${length} bytes but only ${bytes.byteLength - offset} remain`,
      );
    }
    out.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (out.length !== count || offset !== bytes.byteLength) {
    const got =
      offset === bytes.byteLength
        ? `${out.length} elements`
        : 'trailing bytes after the last element';
    throw invalidInput(
      `input '${name}': BYTES shape ${formatShape(shape)} needs ${count} elements, got ${got}`,
    );
  }
  return out;
}
