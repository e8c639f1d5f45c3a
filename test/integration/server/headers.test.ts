// MLServer's header behaviour on both protocols: incoming HTTP headers / gRPC metadata reach the
// runtime as `parameters.headers`, and a runtime's response `parameters.headers` come back as HTTP
// headers / gRPC trailing metadata. A small custom runtime (the extension point users write their
// own runtimes against) echoes what it saw, with the real server listening on loopback.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Metadata, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSettings } from '../../../server/src/config.js';
import type { ModelRuntime } from '../../../server/src/core/model-runtime.js';
import { createLogger } from '../../../server/src/observability/logger.js';
import { startServer, type RunningServer } from '../../../server/src/server.js';
import { loadProtos } from '../../../server/src/transport/grpc/server.js';

const encoder = new TextEncoder();

/** Echoes `x-custom` back as an output and as the response header `x-model-header`. */
const echoRuntime: ModelRuntime = {
  name: 'echo-headers',
  aliases: [],
  load: () =>
    Promise.resolve({
      metadata: {
        platform: 'custom',
        inputs: [{ name: 'x', datatype: 'INT32', shape: [-1] }],
        outputs: [{ name: 'seen', datatype: 'BYTES', shape: [1] }],
      },
      infer: (request) => {
        const headers = request.parameters['headers'] as Record<string, string>;
        const seen = headers['x-custom'] ?? '(none)';
        return Promise.resolve({
          outputs: [{ name: 'seen', datatype: 'BYTES', shape: [1], data: [encoder.encode(seen)] }],
          parameters: { headers: { 'x-model-header': `saw ${seen}` } },
        });
      },
      unload: () => Promise.resolve(),
    }),
};

describe('headers ⇄ parameters.headers', () => {
  let folder: string;
  let server: RunningServer;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tessera-headers-'));
    await mkdir(join(folder, 'echo'));
    await writeFile(
      join(folder, 'echo', 'model-settings.json'),
      JSON.stringify({ name: 'echo', implementation: 'echo-headers' }),
    );
    const settings = loadSettings(
      { TESSERA_LOG_LEVEL: 'silent' },
      { folder, values: { host: '127.0.0.1', http_port: '0', grpc_port: '0', metrics_port: '0' } },
    );
    server = await startServer(settings, createLogger(settings), { runtimes: [echoRuntime] });
  });

  after(async () => {
    await server.shutdown();
    await rm(folder, { recursive: true, force: true });
  });

  it('REST: request headers reach the runtime; its headers come back as HTTP headers', async () => {
    const res = await fetch(`http://127.0.0.1:${server.ports.http}/v2/models/echo/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'hello' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'INT32', data: [1] }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-model-header'), 'saw hello');
    const body = (await res.json()) as { parameters?: unknown; outputs: { data: string[] }[] };
    assert.deepEqual(body.outputs[0]?.data, ['hello']);
    assert.equal(body.parameters, undefined, 'headers are not repeated in the body');
  });

  it('gRPC: metadata reaches the runtime; its headers come back as trailing metadata', async () => {
    const root = loadProtos() as unknown as {
      inference: { GRPCInferenceService: new (a: string, c: unknown) => Client };
    };
    const client = new root.inference.GRPCInferenceService(
      `127.0.0.1:${server.ports.grpc}`,
      credentials.createInsecure(),
    ) as Client & {
      ModelInfer: (
        req: object,
        md: Metadata,
        cb: (e: ServiceError | null, r?: { raw_output_contents: Buffer[] }) => void,
      ) => { on(event: 'status', fn: (s: { metadata: Metadata }) => void): void };
    };
    const metadata = new Metadata();
    metadata.set('x-custom', 'grpc-hi');
    const trailers = new Promise<Metadata>((resolveTrailers, reject) => {
      const call = client.ModelInfer(
        {
          model_name: 'echo',
          inputs: [{ name: 'x', datatype: 'INT32', shape: [1], contents: { int_contents: [1] } }],
        },
        metadata,
        (error, response) => {
          if (error) reject(error);
          // One BYTES element, raw: a 4-byte little-endian length, then the bytes.
          const raw = response?.raw_output_contents[0];
          assert.equal(raw?.readUInt32LE(0), 'grpc-hi'.length);
          assert.equal(raw?.subarray(4).toString(), 'grpc-hi');
        },
      );
      call.on('status', (status) => {
        resolveTrailers(status.metadata);
      });
    });
    assert.deepEqual((await trailers).get('x-model-header'), ['saw grpc-hi']);
    client.close();
  });
});
