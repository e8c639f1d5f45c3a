// A bounded closed-loop inference load through a Service, as clients behind kube-proxy see it:
// each request goes to one of the Service's ready endpoints, and the endpoint list changes only
// when a watch delivers the pod change (README, "Network": no EndpointSlice controller runs),
// plus `propagationDelayMs`, the time kube-proxy takes to program a change it has received.
import type { KubeClient, KubeObject } from '../../../operator/src/kube/client.js';
import { Informer } from '../../../operator/src/controller/informer.js';
import { testLogger } from '../../integration/operator/cluster.js';
import { podReady } from './kube.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import type { Pod } from './pod-types.js';

/** Options of {@link startServiceLoad}. */
export interface ServiceLoadOptions {
  readonly namespace: string;
  /** The Service's selector, as a label selector (`k=v,k2=v2`). */
  readonly labelSelector: string;
  /** The container port requests go to. */
  readonly port: number;
  /**
   * REST (default): `body` POSTed as JSON to `path`. gRPC: `body` is a ModelInferRequest sent with
   * ModelInfer on one HTTP/2 channel per pod, kept open as real gRPC clients keep theirs (`path`
   * is unused), so a rollout must also drain long-lived connections.
   */
  readonly protocol?: 'rest' | 'grpc';
  /** The path and body of every request (POST, JSON). */
  readonly path: string;
  readonly body: unknown;
  /** Concurrent clients, each sending its next request when the last one was answered. */
  readonly clients: number;
  /** The most requests one client sends, so the loop is bounded whatever happens. */
  readonly maxRequestsPerClient: number;
  readonly requestTimeoutMs?: number;
  /**
   * How long after the watch delivers a change the clients route by it: kube-proxy applies
   * EndpointSlice changes in batches, at most once per `--iptables-min-sync-period` (1 s by
   * default) and later on a busy node. 0 routes by the watch at once.
   */
  readonly propagationDelayMs?: number;
}

/** What a finished load saw. */
export interface LoadReport {
  readonly ok: number;
  /** One line per failed request: pod, and status or error. */
  readonly failures: readonly string[];
  /** Successful requests per pod name. */
  readonly servedBy: ReadonlyMap<string, number>;
}

/** A running load. */
export interface ServiceLoad {
  /** Successful requests per pod so far. */
  servedBy(): ReadonlyMap<string, number>;
  /** Stops the clients after their current request and returns what they saw. */
  stop(): Promise<LoadReport>;
}

interface Endpoint {
  readonly ip: string;
  readonly pod: string;
}

/**
 * The endpoints a Service's EndpointSlice would list as ready: selected pods that are Ready and
 * not terminating (the EndpointSlice controller marks a pod with a deletionTimestamp not ready).
 */
function readyEndpoints(objects: KubeObject[]): Endpoint[] {
  return (objects as Pod[])
    .filter((p) => p.metadata?.deletionTimestamp === undefined && podReady(p))
    .flatMap((p) =>
      p.status?.podIP === undefined ? [] : [{ ip: p.status.podIP, pod: p.metadata?.name ?? '' }],
    );
}

/** Starts the load once the watch has synced; `stop()` ends it. */
export async function startServiceLoad(
  client: KubeClient,
  options: ServiceLoadOptions,
): Promise<ServiceLoad> {
  let endpoints: Endpoint[] = [];
  const pending = new Set<NodeJS.Timeout>();
  const informer = new Informer(client, {
    path: `/api/v1/namespaces/${options.namespace}/pods`,
    labelSelector: options.labelSelector,
    resyncMs: 0,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    logger: testLogger(),
    // The list is replaced only here: a client's view changes when the watch delivers an event,
    // after the propagation delay (timers of one delay fire in order, so the latest view wins).
    onEvent: () => {
      const view = readyEndpoints(informer.list());
      const delay = options.propagationDelayMs ?? 0;
      if (delay === 0) endpoints = view;
      else {
        const timer = setTimeout(() => {
          pending.delete(timer);
          endpoints = view;
        }, delay);
        pending.add(timer);
      }
    },
  });
  informer.start();
  await informer.waitForSync();
  endpoints = readyEndpoints(informer.list());

  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const servedBy = new Map<string, number>();
  const body = JSON.stringify(options.body);
  const channels = new Map<string, GrpcTestClient>();
  const viaGrpc = async (target: Endpoint): Promise<void> => {
    let channel = channels.get(target.ip);
    if (channel === undefined) {
      channel = grpcClient(`${target.ip}:${String(options.port)}`);
      channels.set(target.ip, channel);
    }
    try {
      await channel.call('ModelInfer', options.body as object, {
        deadlineMs: options.requestTimeoutMs ?? 10_000,
      });
      ok++;
      servedBy.set(target.pod, (servedBy.get(target.pod) ?? 0) + 1);
    } catch (err) {
      const e = err as { code?: number; details?: string };
      failures.push(`${target.pod}: gRPC ${String(e.code)} ${e.details ?? String(err)}`);
    }
  };
  const one = async (): Promise<void> => {
    const target = endpoints[Math.floor(Math.random() * endpoints.length)];
    if (target === undefined) {
      failures.push('no ready endpoint');
      return;
    }
    if (options.protocol === 'grpc') {
      await viaGrpc(target);
      return;
    }
    try {
      const res = await fetch(`http://${target.ip}:${options.port}${options.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000),
      });
      const text = await res.text();
      if (res.status !== 200) {
        failures.push(`${target.pod}: HTTP ${res.status} ${text.slice(0, 200)}`);
        return;
      }
      ok++;
      servedBy.set(target.pod, (servedBy.get(target.pod) ?? 0) + 1);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      failures.push(`${target.pod}: ${cause ?? String(err)}`);
    }
  };
  const loop = async (): Promise<void> => {
    for (let i = 0; i < options.maxRequestsPerClient && running; i++) {
      await one();
      // A failure with no endpoint would spin: give the watch a moment to deliver one.
      if (endpoints.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
  };
  const clients = Array.from({ length: options.clients }, loop);
  return {
    servedBy: () => new Map(servedBy),
    stop: async () => {
      running = false;
      await Promise.all(clients);
      for (const channel of channels.values()) channel.close();
      await informer.stop();
      for (const timer of pending) clearTimeout(timer);
      return { ok, failures, servedBy };
    },
  };
}
