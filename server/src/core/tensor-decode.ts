/**
 * Decoding and validation of request tensors, shared by REST and gRPC so that both report the same
 * errors in the same words (reliability-catalogue §4 A1–A4). Nothing here allocates more than the
 * data that actually arrived: counts are checked against the shape before any typed array is built.
 */
import { invalidInput } from '../errors.js';
import { ELEMENT_SIZE, INTEGER_RANGE, RAW_ONLY, isDatatype, type Datatype } from './datatype.js';
import { elementCount, formatShape, parseShape } from './shape.js';
import type { RequestInput, Tensor, TensorValues, WireData } from './types.js';

/** Validates one request input and returns it with decoded, typed data. */
export function decodeTensor(input: RequestInput): Tensor {
  const name = input.name;
  if (!isDatatype(input.datatype)) {
    throw invalidInput(`input '${name}': unknown datatype '${String(input.datatype).slice(0, 32)}'`);
  }
  const datatype = input.datatype;
  const shape = parseShape(name, input.shape);
  const count = elementCount(name, shape);
  const data = decodeData(name, datatype, shape, count, input.data);
  return input.parameters === undefined
    ? { name, datatype, shape, data }
    : { name, datatype, shape, data, parameters: input.parameters };
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
          throw invalidInput(`input '${name}': 'data' must be an array (or a bare scalar), got an object`);
        }
        // A scalar with an empty shape may be sent bare (`"data": 3`).
        return decodeList(name, datatype, shape, count, [data.value]);
      }
      return decodeList(name, datatype, shape, count, flatten(data.value as unknown[]));
    }
    case 'list':
      // Checked before the element count: FP16/BF16 have no typed field, so a count would mislead.
      if (RAW_ONLY.has(datatype)) {
        throw invalidInput(`input '${name}': ${datatype} data must be sent as raw bytes, not typed contents`);
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
    const top = stack[stack.length - 1]!;
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

function decodeList(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  values: ArrayLike<unknown>,
): TensorValues {
  if (values.length !== count) countMismatch(name, shape, count, values.length);
  switch (datatype) {
    case 'BOOL':
      return decodeBools(name, values);
    case 'BYTES':
      return decodeStrings(name, values);
    case 'FP32':
      return decodeFloats(name, values, new Float32Array(count));
    case 'FP64':
      return decodeFloats(name, values, new Float64Array(count));
    case 'INT64':
      return decodeBigInts(name, datatype, values, new BigInt64Array(count));
    case 'UINT64':
      return decodeBigInts(name, datatype, values, new BigUint64Array(count));
    case 'UINT8':
      return decodeInts(name, datatype, values, new Uint8Array(count));
    case 'UINT16':
      return decodeInts(name, datatype, values, new Uint16Array(count));
    case 'UINT32':
      return decodeInts(name, datatype, values, new Uint32Array(count));
    case 'INT8':
      return decodeInts(name, datatype, values, new Int8Array(count));
    case 'INT16':
      return decodeInts(name, datatype, values, new Int16Array(count));
    case 'INT32':
      return decodeInts(name, datatype, values, new Int32Array(count));
    case 'FP16':
    case 'BF16':
      throw invalidInput(`input '${name}': ${datatype} data must be sent as binary`);
  }
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
    if (typeof v !== 'number') badElement(name, out instanceof Float32Array ? 'FP32' : 'FP64', i, v);
    // A finite number beyond FP32's range would silently become ±Infinity.
    if (out instanceof Float32Array && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
      badElement(name, 'FP32', i, v);
    }
    out[i] = v;
  }
  return out;
}

function decodeInts<T extends Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array>(
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
    if (typeof v === 'string') out[i] = utf8.encode(v);
    else if (v instanceof Uint8Array) out[i] = v;
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
  const { buffer, byteOffset } = aligned;
  switch (datatype) {
    case 'BOOL':
      for (const b of aligned) if (b > 1) throw invalidInput(`input '${name}': BOOL bytes must be 0 or 1`);
      return aligned;
    case 'UINT8':
      return aligned;
    case 'INT8':
      return new Int8Array(buffer, byteOffset, count);
    case 'UINT16':
    case 'FP16':
    case 'BF16':
      return new Uint16Array(buffer, byteOffset, count);
    case 'INT16':
      return new Int16Array(buffer, byteOffset, count);
    case 'UINT32':
      return new Uint32Array(buffer, byteOffset, count);
    case 'INT32':
      return new Int32Array(buffer, byteOffset, count);
    case 'UINT64':
      return new BigUint64Array(buffer, byteOffset, count);
    case 'INT64':
      return new BigInt64Array(buffer, byteOffset, count);
    case 'FP32':
      return new Float32Array(buffer, byteOffset, count);
    case 'FP64':
      return new Float64Array(buffer, byteOffset, count);
  }
}

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
      throw invalidInput(`input '${name}': BYTES element ${out.length} has a truncated length prefix`);
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
    const got = offset === bytes.byteLength ? `${out.length} elements` : 'trailing bytes after the last element';
    throw invalidInput(
      `input '${name}': BYTES shape ${formatShape(shape)} needs ${count} elements, got ${got}`,
    );
  }
  return out;
}
