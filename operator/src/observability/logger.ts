import { pino, type Logger } from 'pino';

/**
 * The operator's root logger: JSON lines on stdout. Reconciles use a child logger carrying
 * `namespace`, `name` and `reconcileID` (controller-runtime's fields).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, base: { component: 'tessera-operator' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}
