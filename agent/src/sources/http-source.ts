/**
 * http(s):// sources with node:http, so every connection goes through the guarded DNS lookup:
 * redirects are followed by hand (at most `maxRedirects`), each hop re-checked against the
 * allowlist; connect and stall timeouts are those of {@link guardedGet}.
 */
import type { IncomingMessage } from 'node:http';
import { basename, join } from 'node:path';
import { assertHostAllowed } from '../allowlist.js';
import { AgentError, AgentErrorCode } from '../errors.js';
import { displayUri, safeKeySegments } from '../storage-uri.js';
import { guardedGet } from './guarded-http.js';
import { writeObject, type PullResult, type PullTarget } from './transfer.js';

/** Options of the http source. */
export interface HttpSourceOptions {
  readonly allowedHosts: readonly string[];
  readonly maxRedirects: number;
  /**
   * Request headers from a storage-config entry (e.g. Authorization): credentials, so they go
   * to the URI's own origin only, never to a redirect's other origin.
   */
  readonly headers?: Readonly<Record<string, string | string[]>>;
}

function failure(code: AgentErrorCode, message: string): AgentError {
  return new AgentError(code, message);
}

/** Opens `url`, following allowed redirects, and resolves with a 2xx response. */
async function open(
  url: URL,
  options: HttpSourceOptions,
  target: PullTarget,
): Promise<IncomingMessage> {
  let current = url;
  for (let hop = 0; ; hop++) {
    assertHostAllowed(current.hostname, options.allowedHosts);
    const headers = current.origin === url.origin ? (options.headers ?? {}) : {};
    const response = await guardedGet(current, target, headers);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.resume();
      if (hop >= options.maxRedirects) {
        throw failure(AgentErrorCode.PULL_FAILED, `more than ${options.maxRedirects} redirects`);
      }
      const next = new URL(location, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw failure(
          AgentErrorCode.SOURCE_REFUSED,
          'storage_uri refused: a redirect left http(s)',
        );
      }
      current = next;
      continue;
    }
    if (status >= 200 && status < 300) return response;
    response.resume();
    throw statusError(status, current);
  }
}

/** A non-2xx answer in user terms. */
function statusError(status: number, url: URL): AgentError {
  const shown = displayUri(url.href);
  if (status === 404 || status === 410) {
    return failure(AgentErrorCode.ARTEFACT_NOT_FOUND, `'${shown}' was not found (HTTP ${status})`);
  }
  if (status === 401 || status === 403) {
    return failure(
      AgentErrorCode.ACCESS_DENIED,
      `access to '${shown}' was denied (HTTP ${status})`,
    );
  }
  return failure(AgentErrorCode.PULL_FAILED, `'${shown}' answered HTTP ${status}`);
}

/** Downloads one http(s) object into the staging folder. */
export async function pullHttp(
  url: URL,
  options: HttpSourceOptions,
  target: PullTarget,
): Promise<PullResult> {
  const response = await open(url, options, target);
  const last = basename(decodeURIComponent(url.pathname));
  const name = last === '' || last === '/' ? 'artefact' : (safeKeySegments(last)[0] ?? 'artefact');
  const written = await writeObject(response, join(target.dir, name), target);
  return { kind: 'file', name, ...written };
}
