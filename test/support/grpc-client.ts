// A grpc-js client over the repository's own protos, for tests that must craft messages an
// official client would never send (malformed raw contents, typed contents, oversized messages).
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadProtos } from '../../server/src/transport/grpc/server.js';

type Unary = (
  request: object,
  metadata: Metadata,
  options: object,
  callback: (error: ServiceError | null, response?: unknown) => void,
) => void;

export interface GrpcTestClient {
  /** Calls a unary RPC on GRPCInferenceService (or ModelRepositoryService with `service`). */
  call<T = Record<string, unknown>>(
    method: string,
    request: object,
    options?: {
      metadata?: Record<string, string>;
      service?: 'inference' | 'repository';
      deadlineMs?: number;
    },
  ): Promise<T>;
  close(): void;
}

/**
 * Connects to a server; message limits are lifted on the client side so the server's limits are what
 * is tested. `channelOptions` adds grpc-js channel options (e.g. `grpc.default_compression_algorithm`).
 */
export function grpcClient(
  address: string,
  channelOptions: Record<string, number | string> = {},
): GrpcTestClient {
  const root = loadProtos() as unknown as Record<string, Record<string, unknown>>;
  const inference = root['inference'] as Record<string, unknown>;
  const Inference = inference['GRPCInferenceService'] as new (
    address: string,
    creds: unknown,
    options: object,
  ) => Client;
  const Repository = (inference['model_repository'] as Record<string, unknown>)[
    'ModelRepositoryService'
  ] as new (address: string, creds: unknown, options: object) => Client;
  const options = {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    ...channelOptions,
  };
  const clients = {
    inference: new Inference(address, credentials.createInsecure(), options),
    repository: new Repository(address, credentials.createInsecure(), options),
  };
  return {
    call: (method, request, opts = {}) =>
      new Promise((resolveCall, reject) => {
        const client = clients[opts.service ?? 'inference'] as unknown as Record<string, Unary>;
        const fn = client[method];
        if (fn === undefined) {
          reject(new Error(`no such RPC ${method}`));
          return;
        }
        const metadata = new Metadata();
        for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata.set(k, v);
        fn.call(
          client,
          request,
          metadata,
          { deadline: Date.now() + (opts.deadlineMs ?? 10000) },
          (error, response) => {
            if (error) reject(error);
            else resolveCall(response as never);
          },
        );
      }),
    close: () => {
      clients.inference.close();
      clients.repository.close();
    },
  };
}
