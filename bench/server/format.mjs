// Statistics and number formats shared by the report writers (report.mjs, triton-report.mjs).
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const min = (xs) => Math.min(...xs);
export const max = (xs) => Math.max(...xs);
export const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '–');
export const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
export const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '–');
/** "median (min–max)" of a list. */
export const spread = (xs, fmt) => `${fmt(median(xs))} (${fmt(min(xs))}–${fmt(max(xs))})`;
