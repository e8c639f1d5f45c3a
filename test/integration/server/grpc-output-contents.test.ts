// The grpc_output_contents setting: `raw` (default) answers every ModelInfer with
// raw_output_contents, as Triton does; `as_request` answers a typed request with typed contents
// and a raw request with raw contents, as MLServer does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const SEQ = Array.from({ length: 16 }, (_, i) => i);

function typedRequest(): object {
  return {
    model_name: 'simple',
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({
      name,
      datatype: 'INT32',
      shape: [1, 16],
      contents: { int_contents: SEQ },
    })),
  };
}

function rawRequest(): object {
  const bytes = Buffer.alloc(64);
  SEQ.forEach((v, i) => bytes.writeInt32LE(v, i * 4));
  return {
    model_name: 'simple',
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16] })),
    raw_input_contents: [bytes, bytes],
  };
}

interface Answer {
  outputs: { name: string; contents: { int_contents: number[] } | null }[];
  raw_output_contents: Buffer[];
}

const int32s = (b: Buffer | undefined): number[] =>
  Array.from({ length: (b?.length ?? 0) / 4 }, (_, i) => b?.readInt32LE(i * 4) ?? NaN);

for (const mode of ['raw', 'as_request'] as const) {
  void describe(`grpc_output_contents=${mode}`, () => {
    let server: ServerProcess;
    let grpc: GrpcTestClient;

    before(async () => {
      server = await startServer(
        mode === 'raw' ? {} : { env: { TESSERA_GRPC_OUTPUT_CONTENTS: mode } },
      );
      grpc = grpcClient(server.grpcAddress);
    });

    after(async () => {
      grpc.close();
      assert.equal(await server.stop(), 0);
    });

    void it(`answers a typed request with ${mode === 'raw' ? 'raw' : 'typed'} contents`, async () => {
      const answer = await grpc.call<Answer>('ModelInfer', typedRequest());
      const sum = SEQ.map((v) => 2 * v);
      if (mode === 'raw') {
        assert.equal(answer.raw_output_contents.length, 2);
        assert.deepEqual(int32s(answer.raw_output_contents[0]), sum);
        assert.ok(answer.outputs.every((o) => o.contents === null));
      } else {
        assert.equal(answer.raw_output_contents.length, 0);
        assert.deepEqual(answer.outputs[0]?.contents?.int_contents, sum);
      }
    });

    void it('answers a raw request with raw contents', async () => {
      const answer = await grpc.call<Answer>('ModelInfer', rawRequest());
      assert.equal(answer.raw_output_contents.length, 2);
      assert.deepEqual(
        int32s(answer.raw_output_contents[1]),
        SEQ.map(() => 0),
      );
    });
  });
}
