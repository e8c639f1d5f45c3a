/**
 * The gRPC server: loads the protos from proto/, registers both services, and binds. Message-size
 * limits are explicit (grpc-js defaults to 4 MiB receive), and oversized messages are refused by
 * grpc-js from the frame header with RESOURCE_EXHAUSTED (reliability-catalogue §4 B13).
 */
import { fileURLToPath } from 'node:url';
import {
  Server,
  ServerCredentials,
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Settings } from '../../config.js';
import type { DataPlane } from '../../core/dataplane.js';
import type { PinoLogger } from '../../observability/logger.js';
import type { ServerMetrics } from '../../observability/metrics.js';
import { inferenceService, modelRepositoryService } from './service.js';
import { withTolerantDecoding } from './undecodable.js';

/** proto/ at the repository root (server/{src,dist}/transport/grpc → ../../../../proto). */
export const PROTO_DIR = fileURLToPath(new URL('../../../../proto/', import.meta.url));

/** Loader options; the generated types in server/src/generated assume exactly these. */
export const PROTO_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/** A running gRPC server. */
export interface GrpcServerHandle {
  readonly port: number;
  /** Stops accepting calls and waits for in-flight ones; forces after `timeoutMs`. */
  shutdown(): Promise<void>;
}

function service(root: GrpcObject, path: string): ServiceClientConstructor['service'] {
  const found = path
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], root);
  // Undecodable requests become INVALID_ARGUMENT instead of grpc-js's INTERNAL (undecodable.ts).
  return withTolerantDecoding((found as ServiceClientConstructor).service);
}

/** Loads the package definitions of both protos. */
export function loadProtos(): GrpcObject {
  const definition = loadSync(['dataplane.proto', 'model_repository.proto'], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [PROTO_DIR],
  });
  return loadPackageDefinition(definition);
}

/** Starts the gRPC server on `settings.grpc_port`. */
export async function startGrpcServer(deps: {
  settings: Settings;
  dataplane: DataPlane;
  metrics: ServerMetrics;
  logger: PinoLogger;
}): Promise<GrpcServerHandle> {
  const { settings } = deps;
  const server = new Server({
    'grpc.max_receive_message_length': settings.grpc_max_message_length,
    'grpc.max_send_message_length': settings.grpc_max_message_length,
    // channelz is on by default and counts every call on the server, its channel and its socket
    // (about 3% of the server's CPU per `simple` call, bench/RESULTS.md); nothing here serves it.
    'grpc.enable_channelz': 0,
  });
  const root = loadProtos();
  const handlerDeps = {
    metrics: deps.metrics,
    logger: deps.logger,
    repositoryRefused: settings.admin_port !== null,
    outputContents: settings.grpc_output_contents,
  };
  server.addService(
    service(root, 'inference.GRPCInferenceService'),
    inferenceService(deps.dataplane, handlerDeps),
  );
  server.addService(
    service(root, 'inference.model_repository.ModelRepositoryService'),
    modelRepositoryService(deps.dataplane, handlerDeps),
  );
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const port = await new Promise<number>((resolvePort, reject) => {
    server.bindAsync(
      `${host}:${settings.grpc_port}`,
      ServerCredentials.createInsecure(),
      (error, bound) => {
        if (error === null) resolvePort(bound);
        else reject(error);
      },
    );
  });
  const timeoutMs = settings.shutdown_timeout_seconds * 1000;
  return {
    port,
    shutdown: () =>
      new Promise<void>((resolveShutdown) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolveShutdown();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolveShutdown();
        });
      }),
  };
}
