/** pino JSON logs; every line passes the secret redactor before it is written. */
import { pino, type Logger } from 'pino';
import type { Redactor } from './credentials.js';

export type AgentLogger = Logger;

export function createAgentLogger(level: string, redactor: Redactor): AgentLogger {
  return pino({
    level,
    base: { component: 'agent' },
    hooks: {
      // The final line is redacted as text, so a secret in any field or message is caught.
      streamWrite: (line) => redactor.redact(line),
    },
  });
}
