/**
 * Encoding of response tensors to the two wire forms every adapter needs: JSON `data` and raw
 * little-endian bytes (HTTP binary extension, gRPC `raw_output_contents`).
 */
import { invalidInput, shorten } from '../errors.js';
import type { Tensor } from './types.js';

// fatal: bytes that are not UTF-8 have no JSON string form; ignoreBOM: a leading U+FEFF is data.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A BYTES element as a JSON string. JSON strings are Unicode text, so an element that is not UTF-8
 * cannot go out as JSON without being altered; the client is told to ask for binary output.
 */
function jsonString(name: string, index: number, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalidInput(
      `output '${shorten(name)}': BYTES element ${index} is not valid UTF-8, so it cannot be sent as JSON; request the output as binary data (binary_data: true)`,
    );
  }
}

/**
 * Flat JSON values for a tensor's `data`, or for elements `start` to `end` of it (encoders work in
 * slices to yield to the event loop). 64-bit integers become numbers (exact up to 2^53).
 */
export function toJsonData(tensor: Tensor, start = 0, end?: number): unknown[] {
  const all = tensor.data;
  if (Array.isArray(all)) {
    return (all as readonly Uint8Array[])
      .slice(start, end)
      .map((b, i) => jsonString(tensor.name, start + i, b));
  }
  const typed = all as Exclude<typeof all, readonly Uint8Array[]>;
  const data = start === 0 && end === undefined ? typed : typed.subarray(start, end);
  const datatype = tensor.datatype;
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (datatype === 'FP16') return Array.from(data as Uint16Array, halfToFloat);
  if (datatype === 'BF16') return Array.from(data as Uint16Array, bfloat16ToFloat);
  if (datatype === 'INT64' || datatype === 'UINT64') {
    return Array.from(data as BigInt64Array | BigUint64Array, Number);
  }
  return Array.from(data as ArrayLike<number>);
}

/** Raw bytes of a tensor. Numeric data is returned as a view over the typed array, without copying. */
export function toRawBytes(tensor: Tensor): Uint8Array {
  const data = tensor.data;
  if (Array.isArray(data)) return encodeRawStrings(data as readonly Uint8Array[]);
  const typed = data as Exclude<typeof data, readonly Uint8Array[]>;
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** Length-prefixes each BYTES element with a 4-byte little-endian size. */
export function encodeRawStrings(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of elements) {
    view.setUint32(offset, e.byteLength, true);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

/** IEEE 754 half-precision bits to a number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const bfloatView = new DataView(new ArrayBuffer(4));

/** bfloat16 bits (the high half of an FP32) to a number. */
export function bfloat16ToFloat(bits: number): number {
  bfloatView.setUint32(0, bits << 16);
  return bfloatView.getFloat32(0);
}
