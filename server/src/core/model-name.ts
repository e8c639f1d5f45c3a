/**
 * Model names and versions come from URLs and RPC fields, and must never be able to address a file
 * or smuggle a path (Triton CVE-2023-31036, reliability-catalogue §3.6). They are matched against a
 * strict pattern before any lookup.
 */
import { isValidModelName } from '@tessera/contract';
import { invalidInput } from '../errors.js';

export { isValidModelName };

/** Throws a clear 400 if a model name (or version) is not acceptable. */
export function assertModelName(
  value: string,
  what: 'model name' | 'model version' = 'model name',
): void {
  if (!isValidModelName(value)) {
    const shown = JSON.stringify(value.slice(0, 64));
    throw invalidInput(
      `invalid ${what} ${shown}: use letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'`,
    );
  }
}
