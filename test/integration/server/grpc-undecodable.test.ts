// gRPC requests whose bytes are not the RPC's message: INVALID_ARGUMENT with a clear message (the
// client's mistake), never grpc-js's INTERNAL "Error deserializing request", which docs/errors.md
// reserves for server defects. The bytes go over a real HTTP/2 call with a pass-through
// serializer, exactly as a broken or mismatched client would send them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { assertGrpcError, assertGrpcServes } from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const GARBAGE: readonly { name: string; bytes: Buffer }[] = [
  // Field 15 with wire type 7, which protobuf does not have.
  { name: 'an invalid wire type', bytes: Buffer.from([0x7f, 0x01]) },
  // A field key whose varint never ends within ten bytes.
  { name: 'an endless varint', bytes: Buffer.alloc(11, 0xff) },
];

function rawCall(client: Client, path: string, bytes: Buffer): Promise<unknown> {
  return new Promise((resolveCall, reject) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, value?: Buffer) => {
        if (error) reject(error);
        else resolveCall(value);
      },
    );
  });
}

void describe('undecodable gRPC requests', () => {
  let server: ServerProcess;
  let raw: Client;
  let client: GrpcTestClient;

  before(async () => {
    server = await startServer();
    raw = new Client(server.grpcAddress, credentials.createInsecure());
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    raw.close();
    client.close();
    await server.stop();
  });

  for (const { name, bytes } of GARBAGE) {
    void it(`answers ModelInfer with ${name} with INVALID_ARGUMENT`, async () => {
      const details = await assertGrpcError(
        rawCall(raw, '/inference.GRPCInferenceService/ModelInfer', bytes),
        status.INVALID_ARGUMENT,
        ['ModelInferRequest', 'protobuf decoding failed'],
      );
      assert.doesNotMatch(details, /Error deserializing request/);
      await assertGrpcServes(client, 'simple');
    });
  }

  void it('does the same on the repository service', async () => {
    await assertGrpcError(
      rawCall(
        raw,
        '/inference.model_repository.ModelRepositoryService/RepositoryIndex',
        GARBAGE[0]?.bytes ?? Buffer.alloc(0),
      ),
      status.INVALID_ARGUMENT,
      ['RepositoryIndexRequest'],
    );
  });
});
