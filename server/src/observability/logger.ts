/**
 * Structured JSON logs with pino. Request log lines carry `request_id`; model lines carry `model`
 * and `model_version` (conventions §4.7). Credentials in headers are redacted. Logs are always JSON:
 * MLServer's `use_structured_logging` is accepted for compatibility and has no further effect.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { Settings } from '../config.js';

/** Builds the process logger from settings. */
export function createLogger(settings: Pick<Settings, 'log_level'>): PinoLogger {
  return pino({
    level: settings.log_level,
    base: { service: 'tessera-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
      ],
      censor: '[redacted]',
    },
  });
}

export type { PinoLogger };
