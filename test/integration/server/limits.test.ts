// Limits of the real server (reliability-catalogue §4 B11, B12, B13, B15, §3.6): REST body size,
// gzip bodies that inflate past the limit, gRPC message size, headers trickled slower than the
// headers timeout, and unknown routes. After each the server keeps serving: health/live is 200 and
// a known-good inference succeeds. Every wait is bounded; only loopback addresses are used.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { status } from '@grpc/grpc-js';
import {
  assertGrpcError,
  assertGrpcServes,
  assertRestError,
  assertRestServes,
} from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const MAX_BODY = 64 * 1024;
const MAX_GRPC = 64 * 1024;
const HEADERS_TIMEOUT_S = 1;
const REQUEST_TIMEOUT_S = 3;

const SEQ = Array.from({ length: 16 }, (_, i) => i + 1);
const GOOD = JSON.stringify({
  inputs: [
    { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: SEQ },
    { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: SEQ },
  ],
});

/** A valid inference body padded with trailing JSON whitespace to exactly `size` bytes. */
function paddedBody(size: number): Buffer {
  assert.ok(size >= GOOD.length);
  return Buffer.from(GOOD + ' '.repeat(size - GOOD.length));
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POSTs with node:http so the exact bytes and headers are ours (fetch would add its own encoding
 * handling) and a server that answers before reading the whole body is still read correctly.
 */
function post(url: string, body: Buffer, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolvePost, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: { 'content-length': String(body.length), ...headers },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolvePost({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Wraps a raw response so the shared REST assertions can read it. */
function asResponse(raw: RawResponse): Response {
  const contentType = raw.headers['content-type'];
  return new Response(raw.body, {
    status: raw.status,
    headers: typeof contentType === 'string' ? { 'content-type': contentType } : {},
  });
}

void describe('server limits', () => {
  let server: ServerProcess;
  let client: GrpcTestClient;

  before(async () => {
    server = await startServer({
      folder: 'examples/models',
      env: {
        TESSERA_MAX_BODY_BYTES: String(MAX_BODY),
        TESSERA_GRPC_MAX_MESSAGE_LENGTH: String(MAX_GRPC),
        TESSERA_HEADERS_TIMEOUT_SECONDS: String(HEADERS_TIMEOUT_S),
        TESSERA_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_S),
      },
    });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  void it('REST body one byte over max_body_bytes → 413 naming the limit', async () => {
    const raw = await post(`${server.httpUrl}/v2/models/simple/infer`, paddedBody(MAX_BODY + 1), {
      'content-type': 'application/json',
    });
    await assertRestError(asResponse(raw), 413, [String(MAX_BODY), 'limit']);
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('REST body of exactly max_body_bytes and one byte under are accepted', async () => {
    for (const size of [MAX_BODY, MAX_BODY - 1]) {
      const raw = await post(`${server.httpUrl}/v2/models/simple/infer`, paddedBody(size), {
        'content-type': 'application/json',
      });
      assert.equal(raw.status, 200, `a ${size}-byte body is served: ${raw.body.slice(0, 200)}`);
    }
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('REST body over the limit without Content-Length (chunked) → 413', async () => {
    const body = paddedBody(MAX_BODY * 2);
    const raw = await new Promise<RawResponse>((resolvePost, reject) => {
      const req = httpRequest(
        `${server.httpUrl}/v2/models/simple/infer`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolvePost({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      for (let offset = 0; offset < body.length; offset += 8192)
        req.write(body.subarray(offset, offset + 8192));
      req.end();
    });
    await assertRestError(asResponse(raw), 413, [String(MAX_BODY)]);
    await assertRestServes(server.httpUrl, 'simple');
  });

  for (const [encoding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const) {
    void it(`a small ${encoding} body that inflates past max_body_bytes → 413`, async () => {
      const bomb = compress(paddedBody(MAX_BODY * 16));
      assert.ok(bomb.length < MAX_BODY / 8, `the compressed body is small (${bomb.length} bytes)`);
      const raw = await post(`${server.httpUrl}/v2/models/simple/infer`, bomb, {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
      await assertRestError(asResponse(raw), 413, [String(MAX_BODY)]);
      await assertRestServes(server.httpUrl, 'simple');
    });

    void it(`a ${encoding} body that inflates to under the limit is served`, async () => {
      const raw = await post(
        `${server.httpUrl}/v2/models/simple/infer`,
        compress(paddedBody(MAX_BODY - 100)),
        {
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
      );
      assert.equal(raw.status, 200, raw.body.slice(0, 300));
    });
  }

  void it('gRPC message over grpc_max_message_length → RESOURCE_EXHAUSTED', async () => {
    const count = MAX_GRPC / 4 + 16;
    await assertGrpcError(
      client.call('ModelInfer', {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [count / 16, 16] },
          { name: 'INPUT1', datatype: 'INT32', shape: [count / 16, 16] },
        ],
        raw_input_contents: [Buffer.alloc(count * 4), Buffer.alloc(count * 4)],
      }),
      status.RESOURCE_EXHAUSTED,
      [String(MAX_GRPC)],
    );
    await assertGrpcServes(client, 'simple');
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('gRPC gzip message that inflates past grpc_max_message_length → RESOURCE_EXHAUSTED', async () => {
    // grpc.default_compression_algorithm 2 = gzip: zeros compress to a few KiB on the wire.
    const gzipClient = grpcClient(server.grpcAddress, { 'grpc.default_compression_algorithm': 2 });
    try {
      const rows = 1024;
      await assertGrpcError(
        gzipClient.call('ModelInfer', {
          model_name: 'simple',
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16] },
            { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16] },
          ],
          raw_input_contents: [Buffer.alloc(rows * 64), Buffer.alloc(rows * 64)],
        }),
        status.RESOURCE_EXHAUSTED,
        [String(MAX_GRPC)],
      );
      // A compressed message that stays under the limit is served.
      await assertGrpcServes(gzipClient, 'simple');
    } finally {
      gzipClient.close();
    }
    await assertGrpcServes(client, 'simple');
  });

  void it('headers trickled slower than headers_timeout_seconds → the connection is closed', async () => {
    const [host, port] = ['127.0.0.1', server.ports.http];
    const started = Date.now();
    const outcome = await new Promise<{ closedAfterMs: number; reply: string }>(
      (resolveTrickle, reject) => {
        const socket = connect({ host, port });
        let reply = '';
        let timer: NodeJS.Timeout | undefined;
        // The failure is an event, not a duration: the whole trickle went out and the server
        // still had not closed the connection.
        const giveUp = (): void => {
          clearInterval(timer);
          socket.destroy();
          reject(
            new Error('the server kept a trickling connection open until every byte was sent'),
          );
        };
        socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearInterval(timer);
          resolveTrickle({ closedAfterMs: Date.now() - started, reply });
        });
        socket.on('connect', () => {
          socket.write(`GET /v2/health/live HTTP/1.1\r\nHost: ${host}\r\n`);
          // One header byte every 200 ms: the headers never finish within the timeout.
          const header = Buffer.from(`X-Slow: ${'a'.repeat(200)}`);
          let i = 0;
          timer = setInterval(() => {
            if (socket.destroyed) return;
            if (i < header.length) socket.write(header.subarray(i, ++i));
            else giveUp();
          }, 200);
        });
      },
    );
    assert.ok(
      outcome.closedAfterMs >= HEADERS_TIMEOUT_S * 1000 - 100,
      `closed only after the timeout (${outcome.closedAfterMs} ms)`,
    );
    // Closing silently is fine; if the server answers, it is a 408 with our error body.
    if (outcome.reply !== '') {
      assert.match(outcome.reply, /^HTTP\/1\.1 408 /, `reply: ${outcome.reply.slice(0, 200)}`);
      const body = outcome.reply.slice(outcome.reply.indexOf('\r\n\r\n') + 4);
      await assertRestError(
        new Response(body, { status: 408, headers: { 'content-type': 'application/json' } }),
        408,
        ['in time', `${HEADERS_TIMEOUT_S} s`],
      );
    }
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('a body trickled slower than request_timeout_seconds → 408 and the connection is closed', async () => {
    const started = Date.now();
    const body = paddedBody(4096);
    const outcome = await new Promise<{ closedAfterMs: number; reply: string }>(
      (resolveTrickle, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.ports.http });
        let reply = '';
        let timer: NodeJS.Timeout | undefined;
        // The failure is an event, not a duration: the whole body went out and the server still
        // had not closed the connection.
        const giveUp = (): void => {
          clearInterval(timer);
          socket.destroy();
          reject(new Error('the server kept a trickling body open until every byte was sent'));
        };
        socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearInterval(timer);
          resolveTrickle({ closedAfterMs: Date.now() - started, reply });
        });
        socket.on('connect', () => {
          socket.write(
            `POST /v2/models/simple/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          // Complete headers, then one body byte every 100 ms: 4096 bytes would take ~7 minutes.
          let i = 0;
          timer = setInterval(() => {
            if (socket.destroyed) return;
            if (i < body.length) socket.write(body.subarray(i, ++i));
            else giveUp();
          }, 100);
        });
      },
    );
    assert.ok(
      outcome.closedAfterMs >= REQUEST_TIMEOUT_S * 1000 - 100,
      `closed only after the timeout (${outcome.closedAfterMs} ms)`,
    );
    if (outcome.reply !== '') {
      assert.match(outcome.reply, /^HTTP\/1\.1 408 /, `reply: ${outcome.reply.slice(0, 200)}`);
      const replyBody = outcome.reply.slice(outcome.reply.indexOf('\r\n\r\n') + 4);
      await assertRestError(
        new Response(replyBody, { status: 408, headers: { 'content-type': 'application/json' } }),
        408,
        ['in time', `${REQUEST_TIMEOUT_S} s`],
      );
    }
    await assertRestServes(server.httpUrl, 'simple');
  });

  void it('200 idle connections do not starve new requests', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<Socket>((resolveSocket, reject) => {
            const socket = connect({ host: '127.0.0.1', port: server.ports.http });
            socket.once('connect', () => {
              resolveSocket(socket);
            });
            socket.once('error', reject);
          }),
      ),
    );
    try {
      await assertRestServes(server.httpUrl, 'simple');
      await assertGrpcServes(client, 'simple');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  void it('unknown routes → 404 {"error": ...}', async () => {
    for (const [method, path] of [
      ['GET', '/v2/nope'],
      ['POST', '/v3/models/simple/infer'],
      ['GET', '/v2/models/simple/infer'],
      ['DELETE', '/v2/models/simple'],
    ] as const) {
      const response = await fetch(`${server.httpUrl}${path}`, {
        method,
        signal: AbortSignal.timeout(10_000),
      });
      await assertRestError(response, 404, [method, path]);
    }
    await assertRestServes(server.httpUrl, 'simple');
  });
});
