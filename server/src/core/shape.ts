/**
 * Shape validation. The OIP declares dimensions as uint64, but JavaScript numbers are exact only up
 * to 2^53, so every dimension and the element count are checked against that bound before anything
 * is allocated (Triton #3563 and `test_buffer_size_overflow`, reliability-catalogue §4 A3).
 */
import { invalidInput } from '../errors.js';

/** Validates a request shape and returns it as numbers. Negative, fractional and huge dims are rejected. */
export function parseShape(inputName: string, shape: readonly unknown[]): number[] {
  const dims: number[] = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i];
    if (typeof dim !== 'number' || !Number.isInteger(dim)) {
      throw invalidInput(
        `input '${inputName}': shape dimension ${i} must be a non-negative integer, got ${describe(dim)}`,
      );
    }
    if (dim < 0) {
      throw invalidInput(
        `input '${inputName}': shape dimension ${i} must be a non-negative integer, got ${dim}`,
      );
    }
    if (!Number.isSafeInteger(dim)) {
      throw invalidInput(`input '${inputName}': shape dimension ${i} is too large (${dim})`);
    }
    dims[i] = dim;
  }
  elementCount(inputName, dims);
  return dims;
}

/** The number of elements a shape holds; an empty shape is a scalar (1 element). Overflow is an error. */
export function elementCount(inputName: string, shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count)) {
      throw invalidInput(
        `input '${inputName}': shape ${formatShape(shape)} has too many elements to address`,
      );
    }
  }
  return count;
}

/** Whether a concrete shape fits a metadata shape in which -1 means any size. */
export function shapeMatches(actual: readonly number[], declared: readonly number[]): boolean {
  if (actual.length !== declared.length) return false;
  for (let i = 0; i < declared.length; i++) {
    const want = declared[i];
    if (want !== undefined && want >= 0 && want !== actual[i]) return false;
  }
  return true;
}

/** Formats a shape the way messages show it: `[2,3]`. */
export function formatShape(shape: readonly number[]): string {
  // A shape comes from the client and may have any number of dimensions; messages stay short.
  if (shape.length > MAX_SHOWN_DIMS)
    return `[${shape.slice(0, MAX_SHOWN_DIMS).join(',')},… (${shape.length} dimensions)]`;
  return `[${shape.join(',')}]`;
}

const MAX_SHOWN_DIMS = 16;

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value.slice(0, 32)}"`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  return typeof value;
}
