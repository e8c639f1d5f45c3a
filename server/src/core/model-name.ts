/**
 * Model names and versions come from URLs and RPC fields, and must never be able to address a file
 * or smuggle a path (Triton CVE-2023-31036, reliability-catalogue §3.6). They are matched against a
 * strict pattern before any lookup.
 */
import { invalidInput } from '../errors.js';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Whether a model name or version is acceptable: starts alphanumeric, then [A-Za-z0-9._-], no `..`. */
export function isValidModelName(value: string): boolean {
  return NAME_PATTERN.test(value) && !value.includes('..');
}

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
