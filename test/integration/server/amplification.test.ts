// The work one request may cause (reliability-catalogue §4 B11, B13): a request's elements are
// bounded by max_request_elements, its response by max_response_bytes (413 / RESOURCE_EXHAUSTED,
// naming the setting), and a large JSON response is encoded in slices, so health probes keep
// answering while it is built. The last is asserted by ordering, never by durations: once the
// server reports the inference finished (its metrics), a probe sent then must be answered before
// the big response arrives, which only happens if encoding yields to the event loop.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { assertGrpcError, assertRestError, assertRestServes } from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const MAX_ELEMENTS = 4000;
const MAX_RESPONSE = 16_000;
const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];

/** An iris request body of `rows` rows; raw outputs are 20 bytes a row (INT64 + 3 × FP32). */
function irisBody(rows: number, binaryOutput = false): string {
  const data = Array.from({ length: rows }, () => IRIS_ROW);
  return JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 4], data }],
    ...(binaryOutput ? { parameters: { binary_data_output: true } } : {}),
  });
}

function postIris(url: string, body: string): Promise<Response> {
  return fetch(`${url}/v2/models/iris/infer`, {
    method: 'POST',
    // identity: gzip would compress off the event loop and hide a blocking encoder.
    headers: { 'content-type': 'application/json', 'accept-encoding': 'identity' },
    body,
    signal: AbortSignal.timeout(60_000),
  });
}

function grpcIris(client: GrpcTestClient, rows: number): Promise<unknown> {
  return client.call('ModelInfer', {
    model_name: 'iris',
    inputs: [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [rows, 4],
        contents: { fp32_contents: Array.from({ length: rows }, () => IRIS_ROW).flat() },
      },
    ],
  });
}

void describe('per-request work limits', () => {
  let server: ServerProcess;
  let client: GrpcTestClient;

  before(async () => {
    server = await startServer({
      env: {
        TESSERA_MAX_REQUEST_ELEMENTS: String(MAX_ELEMENTS),
        TESSERA_MAX_RESPONSE_BYTES: String(MAX_RESPONSE),
      },
    });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    await server.stop();
  });

  void it('refuses a request with more elements than max_request_elements', async () => {
    const mentions = ['4004 tensor elements', `limit of ${MAX_ELEMENTS}`, 'max_request_elements'];
    await assertRestError(await postIris(server.httpUrl, irisBody(1001)), 413, mentions);
    await assertGrpcError(grpcIris(client, 1001), status.RESOURCE_EXHAUSTED, mentions);
    await assertRestServes(server.httpUrl, 'iris');
  });

  void it('refuses outputs whose raw size exceeds max_response_bytes on every path', async () => {
    const mentions = ["model 'iris'", `limit of ${MAX_RESPONSE} bytes`, 'max_response_bytes'];
    // 900 rows: 18000 bytes of raw output.
    await assertRestError(await postIris(server.httpUrl, irisBody(900, true)), 413, mentions);
    await assertGrpcError(grpcIris(client, 900), status.RESOURCE_EXHAUSTED, mentions);
    await assertRestServes(server.httpUrl, 'iris');
  });

  void it('refuses a JSON response over the limit that would fit as binary', async () => {
    // 700 rows: 14000 bytes raw, but well over 16000 as JSON text.
    const binary = await postIris(server.httpUrl, irisBody(700, true));
    assert.equal(binary.status, 200, 'the binary response fits');
    await binary.arrayBuffer();
    await assertRestError(await postIris(server.httpUrl, irisBody(700)), 413, [
      'max_response_bytes',
    ]);
    await grpcIris(client, 700);
  });
});

/** The iris inferences the server counts as successful, from its metrics. */
async function irisSuccesses(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('tessera_model_infer_requests_total{') &&
        l.includes('model="iris"') &&
        l.includes('outcome="success"'),
    );
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

void describe('health while a large response is encoded', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    await server.stop();
  });

  void it('answers a probe sent after the inference finished before the big response', async () => {
    const events: string[] = [];
    // 400 000 rows: 1.6 M values in, 1.6 M values out as JSON; within the default limits.
    const big = postIris(server.httpUrl, irisBody(400_000)).then(async (response) => {
      events.push('big response');
      assert.equal(response.status, 200);
      return (await response.json()) as { outputs: { data: unknown[] }[] };
    });
    let finished = false;
    void big.finally(() => {
      finished = true;
    });
    // Bounded: the big request either finishes (and the loop ends) or the server reports it done.
    while (!finished && (await irisSuccesses(server.metricsUrl)) === 0) {
      /* poll again: each scrape is one round-trip to the server's event loop */
    }
    events.push('inference finished');
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    events.push(`health ${live.status}`);
    const body = await big;
    assert.deepEqual(events, ['inference finished', 'health 200', 'big response']);
    assert.equal(body.outputs[1]?.data.length, 1_200_000, 'the big response is complete');
  });
});
