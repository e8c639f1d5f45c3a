/**
 * Memory quantities (Kubernetes `resource.Quantity`, e.g. `512Mi`, `4Gi`, `1.5G`, `1e9`) as
 * bytes, for placement arithmetic. Hand-written because @kubernetes/client-node does not export
 * its `quantityToScalar` and that one rejects decimals with a binary suffix ("1.5Gi").
 */

const SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

const QUANTITY =
  /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$/;

/** Bytes of a memory quantity, or undefined if it is not a quantity. */
export function quantityToBytes(quantity: string | number): number | undefined {
  if (typeof quantity === 'number') return Number.isFinite(quantity) ? quantity : undefined;
  const match = QUANTITY.exec(quantity.trim());
  if (match === null) return undefined;
  const [, number, suffix = ''] = match;
  const factor = SUFFIXES[suffix];
  return factor === undefined ? undefined : Math.ceil(Number(number) * factor);
}

/** A byte count for messages, in binary units (`1.5 GiB`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit] ?? 'B'}`;
}
