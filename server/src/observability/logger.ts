/**
 * Structured JSON logs with pino. Every request log line carries `request_id`; inference lines
 * carry `model` and `model_version` (conventions §4.7). Credentials in headers are redacted.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { Settings } from '../config.js';

/** Builds the process logger from settings. */
export function createLogger(settings: Pick<Settings, 'log_level' | 'use_structured_logging'>): PinoLogger {
  return pino({
    level: settings.log_level,
    base: { service: 'tessera-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
      censor: '[redacted]',
    },
    ...(settings.use_structured_logging
      ? {}
      : {
          formatters: {
            level: (label: string) => ({ level: label }),
          },
        }),
  });
}

export type { PinoLogger };
