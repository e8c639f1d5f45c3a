import https from 'node:https';
import http from 'node:http';
import { KubeApiError } from './errors.js';
import type { Connection } from './kubeconfig.js';

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
    }[];
    managedFields?: {
      manager?: string;
      operation?: string;
      fieldsV1?: unknown;
      subresource?: string;
    }[];
    deletionTimestamp?: string;
    finalizers?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** A list response. */
export interface KubeList {
  items: KubeObject[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** One event of a watch stream (API concepts, "Efficient detection of changes"). */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

/** Options of one request. */
export interface RequestOptions {
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
}

/** Content types of the patch flavours the operator uses. */
export const PATCH = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

/** Called after every request; used for metrics and by tests that count writes. */
export type RequestObserver = (method: string, path: string, statusCode: number) => void;

/**
 * The narrow Kubernetes client the operator needs. Integration tests use the real
 * implementation against kube-apiserver; unit tests use an in-memory fake.
 */
export interface KubeClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** Streams a watch until the server closes it, `signal` aborts, or an error occurs. */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

function queryString(query: RequestOptions['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

interface Status {
  reason?: string;
  message?: string;
}

function toApiError(statusCode: number, method: string, path: string, body: string): KubeApiError {
  let status: Status = {};
  try {
    status = JSON.parse(body) as Status;
  } catch {
    // Not a Status object (e.g. a proxy error page); keep the raw text.
  }
  const message = status.message ?? (body.slice(0, 500) || http.STATUS_CODES[statusCode] || '');
  return new KubeApiError(
    statusCode,
    status.reason ?? '',
    `${method} ${path}: ${statusCode} ${message}`,
  );
}

/** A {@link KubeClient} over node:https with a keep-alive agent. */
export class HttpKubeClient implements KubeClient {
  private readonly server: URL;
  private readonly agent: https.Agent | http.Agent;
  private readonly observers: RequestObserver[] = [];

  /** Builds a client for `connection`. */
  constructor(
    private readonly connection: Connection,
    maxSockets = 64,
  ) {
    this.server = connection.server;
    this.agent =
      this.server.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets,
            ca: connection.ca,
            cert: connection.cert,
            key: connection.key,
            rejectUnauthorized: !connection.insecureSkipTlsVerify,
          })
        : new http.Agent({ keepAlive: true, maxSockets });
  }

  /** Registers a callback run after every request. */
  observe(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private headers(contentType?: string): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    const token = this.connection.token();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (contentType !== undefined) headers['content-type'] = contentType;
    return headers;
  }

  private open(
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    signal?: AbortSignal,
  ): http.ClientRequest {
    const mod = this.server.protocol === 'https:' ? https : http;
    return mod.request({
      protocol: this.server.protocol,
      hostname: this.server.hostname,
      port: this.server.port,
      method,
      path,
      headers,
      agent: this.agent,
      signal,
    });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const fullPath = `${this.server.pathname.replace(/\/$/, '')}${path}${queryString(options.query)}`;
    const contentType =
      options.body === undefined ? undefined : (options.contentType ?? 'application/json');
    const headers = this.headers(contentType);
    const { statusCode, body } = await new Promise<{ statusCode: number; body: string }>(
      (resolve, reject) => {
        const req = this.open(method, fullPath, headers);
        req.setTimeout(30_000, () =>
          req.destroy(new Error(`${method} ${path}: timed out after 30s`)),
        );
        req.on('error', reject);
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            resolve({
              statusCode: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        });
        req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
      },
    );
    for (const observer of this.observers) observer(method, path, statusCode);
    if (statusCode < 200 || statusCode >= 300) throw toApiError(statusCode, method, path, body);
    return (body === '' ? {} : JSON.parse(body)) as T;
  }

  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const fullPath = `${this.server.pathname.replace(/\/$/, '')}${path}${queryString({ ...query, watch: true })}`;
    const headers = this.headers();
    await new Promise<void>((resolve, reject) => {
      const req = this.open('GET', fullPath, headers, signal);
      req.on('error', (err) => {
        if (signal.aborted) resolve();
        else reject(err);
      });
      req.on('response', (res) => {
        const statusCode = res.statusCode ?? 0;
        if (statusCode !== 200) {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          res.on('end', () => {
            reject(toApiError(statusCode, 'WATCH', path, body));
          });
          return;
        }
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          try {
            let nl = buffer.indexOf('\n');
            while (nl >= 0) {
              const line = buffer.slice(0, nl).trim();
              buffer = buffer.slice(nl + 1);
              if (line !== '') onEvent(JSON.parse(line) as WatchEvent);
              nl = buffer.indexOf('\n');
            }
          } catch (err) {
            // A handler error (e.g. an ERROR event carrying 410) ends this watch.
            res.destroy();
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('end', () => {
          resolve();
        });
        res.on('error', (err) => {
          if (signal.aborted) resolve();
          else reject(err);
        });
      });
      req.end();
    });
  }
}
