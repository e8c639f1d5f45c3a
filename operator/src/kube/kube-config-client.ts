import { STATUS_CODES } from 'node:http';
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch, ProxyAgent, type Dispatcher } from 'undici';
import type { KubeClient, RequestObserver, RequestOptions, WatchEvent } from './client.js';
import { errorMessage, KubeApiError } from './errors.js';

/** A request that has not answered in this long is abandoned (client-go's default is none; 30 s as before). */
const REQUEST_TIMEOUT_MS = 30_000;

type Query = RequestOptions['query'];

function withQuery(url: URL, query: Query): URL {
  for (const [k, v] of Object.entries(query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

interface Status {
  reason?: string;
  message?: string;
}

/** Turns an error answer into a {@link KubeApiError}, keeping the `Status` reason and message. */
function toApiError(statusCode: number, method: string, path: string, body: string): KubeApiError {
  let status: Status = {};
  try {
    status = JSON.parse(body) as Status;
  } catch {
    // Not a Status object (e.g. a proxy error page); keep the raw text.
  }
  const message = status.message ?? (body.slice(0, 500) || STATUS_CODES[statusCode] || '');
  return new KubeApiError(
    statusCode,
    status.reason ?? '',
    `${method} ${path}: ${statusCode} ${message}`,
  );
}

/** undici's `fetch failed` hides the reason in `cause` (ECONNREFUSED, certificate errors). */
function transportError(method: string, path: string, err: unknown): Error {
  if (err instanceof Error && err.name === 'TimeoutError')
    return new Error(`${method} ${path}: timed out after ${String(REQUEST_TIMEOUT_MS / 1000)}s`);
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  return new Error(`${method} ${path}: ${errorMessage(cause)}`, { cause: err });
}

type TlsMaterial = https.AgentOptions['ca'];

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameMaterial(item as TlsMaterial, b[i] as TlsMaterial));
  }
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

/** Whether two TLS option sets (as `auth` builds them) name the same identity. */
function sameTls(a: https.AgentOptions, b: https.AgentOptions): boolean {
  return (
    sameMaterial(a.ca, b.ca) &&
    sameMaterial(a.cert, b.cert) &&
    sameMaterial(a.key as TlsMaterial, b.key as TlsMaterial) &&
    a.rejectUnauthorized === b.rejectUnauthorized &&
    a.servername === b.servername
  );
}

/** What one request needs: headers with the credential, and a dispatcher with the TLS material. */
interface Auth {
  readonly headers: Record<string, string>;
  readonly dispatcher: Dispatcher;
}

/**
 * A {@link KubeClient} on @kubernetes/client-node's `KubeConfig` (ADR 0009). Every request asks
 * the KubeConfig for its credential, so exec credential plugins (EKS, GKE, AKS, OIDC via
 * kubelogin), auth providers, token files and rotated service-account tokens all work, with the
 * library's own caching of exec credentials until they expire. The transport is the library's
 * fetch layer (undici), with one keep-alive dispatcher per distinct TLS identity instead of the
 * library's new dispatcher per request, which opened a TLS connection for every call (ADR 0009).
 */
export class KubeConfigClient implements KubeClient {
  private readonly server: URL;
  private readonly observers: RequestObserver[] = [];
  private dispatcher: { tls: https.AgentOptions; agent: Dispatcher } | undefined;

  /** Builds a client for the current context of `kubeConfig`. */
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly maxConnections = 64,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null)
      throw new Error(
        `kubeconfig: the current context "${kubeConfig.getCurrentContext()}" names no cluster`,
      );
    this.server = new URL(cluster.server);
  }

  /** Registers a callback run after every request. */
  observe(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  /** Closes the keep-alive connections. */
  close(): void {
    void this.dispatcher?.agent.close();
    this.dispatcher = undefined;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { headers, dispatcher } = await this.auth();
    headers['accept'] = 'application/json';
    if (options.body !== undefined)
      headers['content-type'] = options.contentType ?? 'application/json';
    let statusCode: number;
    let body: string;
    try {
      const res = await fetch(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        dispatcher,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      statusCode = res.status;
      body = await res.text();
    } catch (err) {
      throw transportError(method, path, err);
    }
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
    const { headers, dispatcher } = await this.auth();
    headers['accept'] = 'application/json';
    let res;
    try {
      res = await fetch(this.url(path, { ...query, watch: true }), { headers, dispatcher, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw transportError('WATCH', path, err);
    }
    if (res.status !== 200) throw toApiError(res.status, 'WATCH', path, await res.text());
    if (res.body === null) return;
    let buffer = '';
    try {
      // A handler error (an ERROR event carrying 410) leaves the loop, which cancels the stream.
      // client-node's Watch swallows handler errors instead (ADR 0009).
      for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line !== '') onEvent(JSON.parse(line) as WatchEvent);
          nl = buffer.indexOf('\n');
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err instanceof KubeApiError || err instanceof SyntaxError
        ? err
        : transportError('WATCH', path, err);
    }
  }

  private url(path: string, query: Query): URL {
    return withQuery(
      new URL(`${this.server.pathname.replace(/\/$/, '')}${path}`, this.server),
      query,
    );
  }

  /**
   * Applies the kubeconfig's authentication for one request: headers (bearer token from a
   * static token, token file, exec plugin or auth provider; basic auth; impersonation) and TLS
   * material (CA, client certificate from the file or the exec plugin), mapped to a dispatcher
   * by the library's own rules (proxy-url, insecure-skip-tls-verify, tls-server-name).
   */
  private async auth(): Promise<Auth> {
    const opts: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {}))
      if (v !== undefined) headers[k.toLowerCase()] = String(v);
    if (typeof opts.auth === 'string')
      headers['authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const tls: https.AgentOptions = {};
    if (opts.ca !== undefined) tls.ca = opts.ca;
    if (opts.cert !== undefined) tls.cert = opts.cert;
    if (opts.key !== undefined) tls.key = opts.key;
    if (opts.rejectUnauthorized !== undefined) tls.rejectUnauthorized = opts.rejectUnauthorized;
    if (opts.servername !== undefined) tls.servername = opts.servername;
    return { headers, dispatcher: this.dispatcherFor(tls) };
  }

  /**
   * One keep-alive dispatcher per TLS identity; a rotated client certificate replaces it. The
   * identity is compared field by field (a byte comparison of the PEMs): hashing it on every
   * request took a tenth of the operator's CPU at 1,000 InferenceServices (bench/RESULTS.md).
   */
  private dispatcherFor(tls: https.AgentOptions): Dispatcher {
    if (this.dispatcher !== undefined && sameTls(this.dispatcher.tls, tls))
      return this.dispatcher.agent;
    const options = this.kubeConfig.createDispatcherOptions(
      this.kubeConfig.getCurrentCluster(),
      tls,
    );
    let agent: Dispatcher;
    switch (options.type) {
      case 'agent':
        agent = new Agent({ connect: options.connect, connections: this.maxConnections });
        break;
      case 'none':
        agent = new Agent({ connections: this.maxConnections });
        break;
      case 'proxy':
        agent = new ProxyAgent({
          uri: options.uri,
          requestTls: options.requestTls,
          connect: options.connect,
        });
        break;
      case 'socks':
        throw new Error(
          `kubeconfig: the SOCKS proxy ${options.uri} is not supported; use an HTTP(S) proxy-url`,
        );
    }
    // Requests in flight on the old dispatcher finish; close() only refuses new ones.
    void this.dispatcher?.agent.close();
    this.dispatcher = { tls, agent };
    return agent;
  }
}
