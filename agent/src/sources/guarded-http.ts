/**
 * One GET over node:http(s) whose every connection goes through the guarded DNS lookup (no
 * metadata or link-local address, whatever a name resolves to). Connecting is bounded by
 * `connectTimeoutMs`; waiting for the headers counts as a stall like waiting for body bytes, so a
 * silent peer fails after `stallTimeoutMs`. Shared by the http(s) and gs:// sources.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { guardedLookup } from '../allowlist.js';
import { AgentError, AgentErrorCode } from '../errors.js';
import { stalled, type PullTarget } from './transfer.js';

/** Connection pools whose sockets resolve names through {@link guardedLookup}. */
export const guardedAgents = {
  http: new HttpAgent({ lookup: guardedLookup, keepAlive: false }),
  https: new HttpsAgent({ lookup: guardedLookup, keepAlive: false }),
};

/** Sends a GET and resolves with the response (any status); the caller consumes or resumes it. */
export function guardedGet(
  url: URL,
  target: PullTarget,
  headers: Readonly<Record<string, string | readonly string[]>> = {},
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)(url, {
      agent: secure ? guardedAgents.https : guardedAgents.http,
      signal: target.signal,
      // identity last: a configured header never turns on compression the size checks would miss.
      headers: { ...headers, 'accept-encoding': 'identity' },
    });
    const connectTimer = setTimeout(() => {
      request.destroy(
        new AgentError(
          AgentErrorCode.PULL_TIMEOUT,
          `could not connect within ${target.connectTimeoutMs} ms`,
        ),
      );
    }, target.connectTimeoutMs);
    request.once('socket', (socket) => {
      const connected = (): void => {
        clearTimeout(connectTimer);
        request.setTimeout(target.stallTimeoutMs, () => {
          request.destroy(stalled(target.stallTimeoutMs));
        });
      };
      if (socket.connecting) socket.once('connect', connected);
      else connected();
    });
    request.once('response', (response) => {
      clearTimeout(connectTimer);
      request.setTimeout(0);
      resolve(response);
    });
    request.once('error', (error) => {
      clearTimeout(connectTimer);
      reject(error instanceof AgentError ? error : networkError(error, url));
    });
    request.end();
  });
}

/** A socket-level failure in user terms: the host and the system code, nothing else. */
export function networkError(error: Error, url: URL): AgentError {
  const code = (error as { code?: unknown }).code;
  const detail = typeof code === 'string' ? code : 'connection failed';
  return new AgentError(AgentErrorCode.PULL_FAILED, `cannot reach '${url.host}' (${detail})`);
}

/** Reads a (small) response body as text, bounded by `maxBytes`. */
export async function readBody(response: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.destroy();
      throw new AgentError(
        AgentErrorCode.PULL_FAILED,
        `the store's answer was larger than ${maxBytes} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
