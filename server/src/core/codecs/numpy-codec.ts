/**
 * The `np` content type (mlserver-features.md §8.2): a tensor is a NumPy array of its datatype and
 * shape. Two of MLServer's rules need code here: a one-dimensional shape `[N]` means N data points,
 * i.e. `[N, 1]` (codecs/utils.py `inject_batch_dimension`), and models served the way MLServer's
 * runtimes serve them take any numeric datatype and convert it, as NumPy and the frameworks do
 * (`NumpyRequestCodec` sends float64 rows as FP64 to a model trained on float32).
 */
import { invalidInput, shorten } from '../../errors.js';
import { INTEGER_RANGE, type Datatype } from '../datatype.js';
import { elementCount } from '../shape.js';
import type { Tensor, TensorValues } from '../types.js';

/** `[N]` becomes `[N, 1]`; other shapes are kept (MLServer's `inject_batch_dimension`). */
export function withBatchDimension(shape: readonly number[]): number[] {
  return shape.length === 1 ? [shape[0] ?? 0, 1] : [...shape];
}

const FLOATS: Readonly<
  Partial<Record<Datatype, new (length: number) => Float32Array | Float64Array>>
> = {
  FP32: Float32Array,
  FP64: Float64Array,
};

const INTEGERS: Readonly<
  Partial<
    Record<
      Datatype,
      new (
        length: number,
      ) => Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array
    >
  >
> = {
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
};

/** Whether a datatype is a number NumPy converts between (BYTES and the 16-bit floats are not). */
export function isCastable(datatype: Datatype): boolean {
  return datatype !== 'BYTES' && datatype !== 'FP16' && datatype !== 'BF16';
}

function refuse(name: string, from: Datatype, to: Datatype, why: string): never {
  throw invalidInput(
    `input '${shorten(name)}': cannot convert ${from} to the model's ${to}: ${why}`,
  );
}

/**
 * The tensor's values as `target`. Floats take any number (FP64 values beyond FP32's range are
 * refused rather than turned into infinities); integers take integers that fit.
 */
export function castTensor(tensor: Tensor, target: Datatype): Tensor {
  if (tensor.datatype === target) return tensor;
  const from = tensor.datatype;
  if (!isCastable(from) || !isCastable(target)) {
    refuse(tensor.name, from, target, 'only numeric datatypes convert');
  }
  const source = tensor.data as Exclude<TensorValues, readonly Uint8Array[]>;
  const count = elementCount(tensor.name, tensor.shape);
  const read = (i: number): number => Number(source[i] ?? 0);
  return { ...tensor, datatype: target, data: convert(tensor.name, from, target, read, count) };
}

/** Integer targets and their ranges; 64-bit ones are exact only up to 2^53, as JSON numbers are. */
const INTEGER_TARGETS: Readonly<
  Partial<Record<Datatype, { range: readonly [number, number]; make: (n: number) => TensorValues }>>
> = {
  ...Object.fromEntries(
    Object.entries(INTEGERS).map(([datatype, Make]) => [
      datatype,
      { range: INTEGER_RANGE[datatype as Datatype] ?? [0, 0], make: (n: number) => new Make(n) },
    ]),
  ),
  INT64: { range: [-(2 ** 63), 2 ** 63], make: (n) => new BigInt64Array(n) },
  UINT64: { range: [0, 2 ** 64], make: (n) => new BigUint64Array(n) },
  BOOL: { range: [0, 1], make: (n) => new Uint8Array(n) },
};

function convert(
  name: string,
  from: Datatype,
  target: Datatype,
  read: (i: number) => number,
  count: number,
): TensorValues {
  const Float = FLOATS[target];
  if (Float !== undefined) {
    const out = new Float(count);
    for (let i = 0; i < count; i++) {
      const v = read(i);
      if (out instanceof Float32Array && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
        refuse(name, from, target, `element ${i} (${v}) is beyond FP32's range`);
      }
      out[i] = v;
    }
    return out;
  }
  const integer = INTEGER_TARGETS[target];
  if (integer === undefined) return refuse(name, from, target, 'no conversion is defined');
  const [min, max] = integer.range;
  const out = integer.make(count) as Exclude<TensorValues, readonly Uint8Array[]>;
  for (let i = 0; i < count; i++) {
    const v = read(i);
    if (!Number.isInteger(v) || v < min || v > max) {
      refuse(name, from, target, `element ${i} (${v}) is not a ${target} value`);
    }
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(v);
    else out[i] = v;
  }
  return out;
}
