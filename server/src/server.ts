/**
 * The composition root: builds every part from settings, listens, loads models and shuts down in
 * order. The only module that wires things together (conventions §4.2).
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Settings } from './config.js';
import { DataPlane } from './core/dataplane.js';
import { ModelRegistry } from './core/model-registry.js';
import { ModelRepository } from './core/model-repository.js';
import { ResponseCache } from './core/response-cache.js';
import { SystemSharedMemory } from './core/system-shared-memory.js';
import type { ModelRuntime } from './core/model-runtime.js';
import type { PinoLogger } from './observability/logger.js';
import { CustomMetrics } from './observability/custom-metrics.js';
import { ServerMetrics } from './observability/metrics.js';
import { buildMetricsApp } from './observability/metrics-app.js';
import { startTracing } from './observability/tracing.js';
import { builtinRuntimes } from './runtime/builtin-runtimes.js';
import { buildHttpApp } from './transport/http/app.js';
import { startGrpcServer, type GrpcServerHandle } from './transport/grpc/server.js';

/** Extensions this server implements, reported in server metadata (Triton's names). */
export const EXTENSIONS = [
  'model_repository',
  'model_configuration',
  'statistics',
  'binary_tensor_data',
  'parameters',
] as const;

/** Where POSIX shm_open names live on Linux (glibc maps `/key` to this folder's `key`). */
const SHM_DIRECTORY = '/dev/shm';
/** At most this many registered shared-memory regions: each holds a file descriptor. */
const MAX_SHM_REGIONS = 256;

/** A running server. */
export interface RunningServer {
  readonly ports: {
    readonly http: number;
    readonly grpc: number;
    readonly metrics: number | null;
    /** The admin listener (repository API), when `admin_port` is set. */
    readonly admin: number | null;
  };
  readonly dataplane: DataPlane;
  /** Names of the models that were ready when start-up finished, sorted. */
  readonly readyModels: readonly string[];
  /** Graceful shutdown: readiness off, in-flight requests finish, models unload. */
  shutdown(): Promise<void>;
}

/** Options for embedding the server. */
export interface StartOptions {
  /** Custom runtimes, selected by `implementation` like the built-in ones. */
  readonly runtimes?: readonly ModelRuntime[];
}

/** Starts the REST, gRPC and metrics servers, then loads models (liveness answers meanwhile). */
export async function startServer(
  settings: Settings,
  logger: PinoLogger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const tracing = startTracing(settings);
  const metrics = new ServerMetrics({ restPrefix: settings.metrics_rest_server_prefix });
  const repository = new ModelRepository(settings.model_repository_root);
  const builtin = builtinRuntimes({
    parallelWorkers: settings.parallel_workers,
    maxWorkerThreads: settings.max_worker_threads,
    pythonExecutable: settings.python_executable ?? undefined,
    pythonMaxInFlight: settings.python_max_in_flight,
    customMetrics: new CustomMetrics({
      registry: metrics.registry,
      logger,
      maxPerModel: settings.python_max_custom_metrics,
    }),
    workerMaxInFlight: settings.worker_max_in_flight,
    envTarball: settings.env_tarball ?? undefined,
    environments: {
      dir: settings.environments_dir,
      maxBytes: settings.environment_max_bytes,
      maxEntries: settings.environment_max_entries,
      cacheBytes: settings.environments_cache_bytes ?? undefined,
    },
    logger,
  });
  const runtimes = [...builtin.runtimes, ...(options.runtimes ?? [])];
  const registry = new ModelRegistry({
    repository,
    runtimes,
    observer: metrics,
    logger,
    drainTimeoutMs: settings.drain_timeout_seconds * 1000,
  });
  const sharedMemory = new SystemSharedMemory({
    enabled: settings.allow_client_shm,
    directory: SHM_DIRECTORY,
    maxRegions: MAX_SHM_REGIONS,
    maxTensorBytes: settings.max_body_bytes,
  });
  const dataplane = new DataPlane({
    registry,
    observer: metrics,
    logger,
    server: {
      name: settings.server_name,
      version: settings.server_version,
      extensions: [
        ...new Set([
          ...EXTENSIONS,
          ...(settings.allow_client_shm ? ['system_shared_memory'] : []),
          ...settings.extensions,
        ]),
      ],
    },
    inferTimeoutMs: settings.infer_timeout_seconds * 1000,
    limits: {
      maxRequestElements: settings.max_request_elements,
      maxResponseBytes: settings.max_response_bytes,
    },
    requiredModels: settings.required_models,
    parallelWorkers: settings.parallel_workers,
    sharedMemory,
    ...(settings.cache_enabled
      ? {
          responseCache: new ResponseCache({
            maxEntries: settings.cache_size,
            maxBytes: settings.cache_max_bytes,
            onEvict: () => {
              metrics.cacheEvicted();
            },
          }),
        }
      : {}),
  });

  const adminSet = settings.admin_port !== null;
  const http = await buildHttpApp({
    settings,
    dataplane,
    metrics,
    logger,
    surface: adminSet ? 'inference' : 'all',
  });
  await http.listen({ host: settings.host, port: settings.http_port });
  // The admin listener adds routes to the same DataPlane; it is bound to admin_host (loopback in
  // generated pods), so only the pod's own containers (the agent) can load and unload.
  let admin: FastifyInstance | undefined;
  if (settings.admin_port !== null) {
    admin = await buildHttpApp({ settings, dataplane, metrics, logger, surface: 'admin' });
    await admin.listen({ host: settings.admin_host, port: settings.admin_port });
  }
  const grpc = await startGrpcServer({ settings, dataplane, metrics, logger });
  let metricsApp: FastifyInstance | undefined;
  if (settings.metrics_endpoint !== null) {
    metricsApp = buildMetricsApp(metrics, settings.metrics_endpoint);
    await metricsApp.listen({ host: settings.host, port: settings.metrics_port });
  }

  await registry.discover();
  if (settings.load_models_at_startup) await registry.loadAll();
  dataplane.markReady();

  const ports = {
    http: (http.server.address() as AddressInfo).port,
    grpc: grpc.port,
    metrics: metricsApp === undefined ? null : (metricsApp.server.address() as AddressInfo).port,
    admin: admin === undefined ? null : (admin.server.address() as AddressInfo).port,
  };
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= stopAll({
      dataplane,
      registry,
      runtimes,
      engineThreads: builtin.threads,
      http,
      admin,
      grpc,
      metricsApp,
      tracing,
      logger,
      sharedMemory,
      delayMs: settings.shutdown_delay_seconds * 1000,
    });
    return stopping;
  };
  const readyModels = [...new Set((await registry.index(true)).map((e) => e.name))];
  return { ports, dataplane, readyModels, shutdown };
}

async function stopAll(parts: {
  dataplane: DataPlane;
  registry: ModelRegistry;
  runtimes: readonly ModelRuntime[];
  /** The worker threads the built-in runtimes share, stopped once after every runtime closed. */
  engineThreads: { close(): Promise<void> };
  http: FastifyInstance;
  admin: FastifyInstance | undefined;
  grpc: GrpcServerHandle;
  metricsApp: FastifyInstance | undefined;
  tracing: { shutdown(): Promise<void> };
  logger: PinoLogger;
  sharedMemory: SystemSharedMemory;
  /** shutdown_delay_seconds: how long to keep serving, unready, before closing the listeners. */
  delayMs: number;
}): Promise<void> {
  parts.logger.info({}, 'Shutting down: readiness off, draining in-flight requests');
  parts.dataplane.markShuttingDown();
  if (parts.delayMs > 0) {
    // Endpoint removal reaches kube-proxy and other clients after the signal reached us; until
    // then requests keep arriving and are served (REST answers close their connections, so
    // kept-alive clients reconnect to a pod that stays).
    parts.logger.info({ delay_ms: parts.delayMs }, 'Serving unready until the shutdown delay ends');
    await sleep(parts.delayMs);
  }
  // Both servers stop accepting at once; each waits for its in-flight calls.
  await Promise.all([parts.http.close(), parts.admin?.close(), parts.grpc.shutdown()]);
  await parts.registry.unloadAll();
  await parts.sharedMemory.close();
  await Promise.all(parts.runtimes.map((runtime) => runtime.close?.() ?? Promise.resolve()));
  await parts.engineThreads.close();
  await parts.metricsApp?.close();
  await parts.tracing.shutdown().catch(() => undefined);
  parts.logger.info({}, 'Shutdown complete');
}
