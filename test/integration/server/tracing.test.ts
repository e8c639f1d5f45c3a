// OpenTelemetry tracing of the real server against a real OpenTelemetry Collector (OTLP over gRPC
// and over HTTP/protobuf): a W3C `traceparent` sent on REST or gRPC is continued by the request span,
// the core's 'model infer' span is its child, and spans carry model and model_version.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import {
  startCollector,
  type CollectedSpan,
  type Collector,
} from '../../support/otel-collector.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { irisGrpcRawRequest, postJson } from './lifecycle-helpers.js';

const skip = process.env['TESSERA_OTELCOL']
  ? false
  : 'TESSERA_OTELCOL is not set (run via scripts/run-tests.mjs)';

const SPAN_WAIT_MS = 20_000;

function newTraceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

const IRIS_REST_BODY = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
};

/** Checks the request span → 'model infer' span chain of one trace and returns the two spans. */
function checkChain(
  spans: readonly CollectedSpan[],
  parent: { traceId: string; spanId: string },
  requestSpanName: string,
): { request: CollectedSpan; infer: CollectedSpan } {
  const inTrace = spans.filter((s) => s.traceId === parent.traceId);
  const request = inTrace.find((s) => s.name === requestSpanName);
  assert.ok(
    request,
    `request span '${requestSpanName}' in ${JSON.stringify(inTrace.map((s) => s.name))}`,
  );
  assert.equal(request.parentSpanId, parent.spanId, "the request span continues the caller's span");
  assert.equal(request.kind, 2, 'the request span is a SERVER span');
  const infer = inTrace.find((s) => s.name === 'model infer');
  assert.ok(infer, `'model infer' span in ${JSON.stringify(inTrace.map((s) => s.name))}`);
  assert.equal(infer.parentSpanId, request.spanId, "'model infer' is a child of the request span");
  assert.equal(infer.attributes['model'], 'iris');
  assert.equal(infer.attributes['model_version'], '1');
  assert.equal(request.resourceAttributes['service.name'], 'tessera-server');
  // The SDK anchors each span's clock to Date.now() (millisecond resolution) when the span starts,
  // so parent and child timestamps can disagree by up to a few milliseconds.
  const slack = 5_000_000n;
  assert.ok(
    BigInt(infer.startTimeUnixNano) + slack >= BigInt(request.startTimeUnixNano),
    'the child starts inside its parent',
  );
  assert.ok(
    BigInt(infer.endTimeUnixNano) <= BigInt(request.endTimeUnixNano) + slack,
    'the child ends inside its parent',
  );
  return { request, infer };
}

void describe('tracing over OTLP/gRPC to a real collector', { skip, timeout: 90_000 }, () => {
  let collector: Collector;
  let server: ServerProcess;
  let grpc: GrpcTestClient;

  before(async () => {
    collector = await startCollector();
    // MLServer's tracing_server is host:port.
    server = await startServer({ env: { TESSERA_TRACING_SERVER: collector.otlpGrpcEndpoint } });
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    const code = await server.stop();
    await collector.stop();
    assert.equal(code, 0);
  });

  void it('continues a REST traceparent: request span → model infer span, with model and version', async () => {
    const parent = newTraceparent();
    const result = await postJson(`${server.httpUrl}/v2/models/iris/infer`, IRIS_REST_BODY, {
      traceparent: parent.header,
    });
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const spans = await collector.waitForSpans(
      (all) => all.filter((s) => s.traceId === parent.traceId).length >= 2,
      SPAN_WAIT_MS,
    );
    const { request } = checkChain(spans, parent, 'POST /v2/models/:model/infer');
    assert.equal(request.attributes['http.route'], '/v2/models/:model/infer');
    assert.equal(request.attributes['http.response.status_code'], 200);
  });

  void it('continues a gRPC traceparent (metadata): request span → model infer span', async () => {
    const parent = newTraceparent();
    const response = await grpc.call<{ model_version: string }>(
      'ModelInfer',
      irisGrpcRawRequest(2),
      { metadata: { traceparent: parent.header } },
    );
    assert.equal(response.model_version, '1');
    const spans = await collector.waitForSpans(
      (all) => all.filter((s) => s.traceId === parent.traceId).length >= 2,
      SPAN_WAIT_MS,
    );
    const { request } = checkChain(spans, parent, 'inference.GRPCInferenceService/ModelInfer');
    assert.equal(request.attributes['rpc.system'], 'grpc');
    assert.equal(request.attributes['rpc.method'], 'ModelInfer');
  });

  void it('does not trace health probes (REST /v2/health/*, gRPC ServerLive/ServerReady)', async () => {
    const parent = newTraceparent();
    await fetch(`${server.httpUrl}/v2/health/live`, { headers: { traceparent: parent.header } });
    await fetch(`${server.httpUrl}/v2/health/ready`, { headers: { traceparent: parent.header } });
    await grpc.call('ServerLive', {}, { metadata: { traceparent: parent.header } });
    await grpc.call('ServerReady', {}, { metadata: { traceparent: parent.header } });
    // A traced request afterwards: once its spans arrive, the probes' spans would have too.
    const marker = newTraceparent();
    await postJson(`${server.httpUrl}/v2/models/iris/infer`, IRIS_REST_BODY, {
      traceparent: marker.header,
    });
    const spans = await collector.waitForSpans(
      (all) => all.filter((s) => s.traceId === marker.traceId).length >= 2,
      SPAN_WAIT_MS,
    );
    const probes = spans.filter(
      (s) => s.traceId === parent.traceId || /health|ServerLive|ServerReady/.test(s.name),
    );
    assert.deepEqual(
      probes.map((s) => s.name),
      [],
    );
  });

  void it('starts a new trace when no traceparent is sent, and marks failed inferences as errors', async () => {
    const bad = await postJson(`${server.httpUrl}/v2/models/iris/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1] }],
    });
    assert.equal(bad.status, 400);
    const spans = await collector.waitForSpans(
      (all) => all.some((s) => s.name === 'model infer' && s.status.code === 2),
      SPAN_WAIT_MS,
    );
    const failed = spans.find((s) => s.name === 'model infer' && s.status.code === 2)!;
    const request = spans.find((s) => s.spanId === failed.parentSpanId);
    assert.ok(request, 'the failed inference span has its request span');
    assert.equal(request.parentSpanId, '', 'the request span is a root span');
    assert.equal(request.attributes['http.response.status_code'], 400);
  });
});

void describe(
  'tracing over OTLP/HTTP (protobuf) to a real collector',
  { skip, timeout: 90_000 },
  () => {
    let collector: Collector;
    let server: ServerProcess;

    before(async () => {
      collector = await startCollector();
      server = await startServer({
        env: {
          TESSERA_TRACING_SERVER: collector.otlpHttpEndpoint,
          TESSERA_TRACING_PROTOCOL: 'http/protobuf',
        },
      });
    });

    after(async () => {
      const code = await server.stop();
      await collector.stop();
      assert.equal(code, 0);
    });

    void it('continues a REST traceparent: request span → model infer span', async () => {
      const parent = newTraceparent();
      const result = await postJson(
        `${server.httpUrl}/v2/models/iris/versions/1/infer`,
        IRIS_REST_BODY,
        { traceparent: parent.header },
      );
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const spans = await collector.waitForSpans(
        (all) => all.filter((s) => s.traceId === parent.traceId).length >= 2,
        SPAN_WAIT_MS,
      );
      checkChain(spans, parent, 'POST /v2/models/:model/versions/:version/infer');
    });

    void it('flushes pending spans on SIGTERM', async () => {
      const parent = newTraceparent();
      const result = await postJson(`${server.httpUrl}/v2/models/iris/infer`, IRIS_REST_BODY, {
        traceparent: parent.header,
      });
      assert.equal(result.status, 200);
      // Stop at once, before the batch processor's scheduled export.
      assert.equal(await server.stop(), 0);
      const spans = await collector.waitForSpans(
        (all) => all.filter((s) => s.traceId === parent.traceId).length >= 2,
        SPAN_WAIT_MS,
      );
      checkChain(spans, parent, 'POST /v2/models/:model/infer');
    });
  },
);

void describe('tracing is off by default', () => {
  void it('serves without any collector when tracing_server is not set', async () => {
    const env: Record<string, string> = {};
    // Make sure nothing inherited from the environment turns tracing on.
    for (const key of [
      'TESSERA_TRACING_SERVER',
      'MLSERVER_TRACING_SERVER',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]) {
      if (process.env[key] !== undefined) env[key] = '';
    }
    const server = await startServer({ env });
    try {
      const parent = newTraceparent();
      const result = await postJson(`${server.httpUrl}/v2/models/iris/infer`, IRIS_REST_BODY, {
        traceparent: parent.header,
      });
      assert.equal(result.status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const exporterErrors = server.logs.filter((l) =>
      /otlp|export|ECONNREFUSED/i.test(JSON.stringify(l)),
    );
    assert.deepEqual(exporterErrors, []);
  });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolveClose) =>
    server.close(() => {
      resolveClose();
    }),
  );
  return port;
}

void describe('tracing with an unreachable collector', { timeout: 60_000 }, () => {
  for (const protocol of ['grpc', 'http/protobuf']) {
    void it(`keeps serving and still exits 0 promptly on SIGTERM (${protocol})`, async () => {
      const port = await closedPort();
      const server = await startServer({
        env: { TESSERA_TRACING_SERVER: `127.0.0.1:${port}`, TESSERA_TRACING_PROTOCOL: protocol },
      });
      let code: number | null = null;
      try {
        for (let i = 0; i < 5; i++) {
          const result = await postJson(`${server.httpUrl}/v2/models/iris/infer`, IRIS_REST_BODY, {
            traceparent: newTraceparent().header,
          });
          assert.equal(result.status, 200);
        }
        code = await server.stop();
      } finally {
        await server.stop();
      }
      assert.equal(code, 0);
    });
  }
});
