/**
 * Ordering of model versions. Numeric versions compare as numbers (Triton's integer versions),
 * others segment by segment (`v0.1.10` > `v0.1.9`), so "the highest version" means what users expect.
 */
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Negative when a < b, positive when a > b, 0 when equal. */
export function compareVersions(a: string, b: string): number {
  return collator.compare(a, b);
}
