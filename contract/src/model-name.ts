/**
 * Model names and versions come from URLs, RPC fields and CRDs, and must never be able to address
 * a file or smuggle a path (Triton CVE-2023-31036, reliability-catalogue §3.6).
 */

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Whether a model name or version is acceptable: starts alphanumeric, then [A-Za-z0-9._-], no `..`. */
export function isValidModelName(value: string): boolean {
  return NAME_PATTERN.test(value) && !value.includes('..');
}

/** The rule in words, for messages. */
export const MODEL_NAME_RULE =
  "use letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'";
