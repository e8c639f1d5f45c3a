// Types of pki.mjs for the TypeScript tests.
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}
export function makeCa(dir: string, name: string): KeyPair;
export function issueCert(
  dir: string,
  ca: KeyPair,
  name: string,
  options: { cn?: string; usage: string; sans?: readonly string[] },
): KeyPair;
