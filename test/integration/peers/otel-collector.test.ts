// The OTLP receiver peer itself: a span exported over OTLP/HTTP (protobuf) by the OpenTelemetry
// JS SDK comes back, with its parent link and attributes, from the real collector's file export.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { context, trace } from '@opentelemetry/api';
import { createConnection } from 'node:net';
import { parseOtlpJsonLines, startCollector } from '../../support/otel-collector.js';

// A missing peer fails the test instead of skipping it: no tier is skipped in CI.
assert.ok(
  process.env['TESSERA_OTELCOL'],
  'TESSERA_OTELCOL is not set: run through scripts/run-tests.mjs, which provisions it',
);

function connects(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = createConnection({ host: host!, port: Number(port) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

void describe('otel collector peer', { timeout: 60_000 }, () => {
  void it('receives OTLP/HTTP spans and returns them from spans()', async () => {
    const collector = await startCollector();
    const provider = new BasicTracerProvider({
      spanProcessors: [
        new SimpleSpanProcessor(
          new OTLPTraceExporter({ url: `${collector.otlpHttpEndpoint}/v1/traces` }),
        ),
      ],
    });
    try {
      assert.match(collector.otlpHttpEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(collector.otlpGrpcEndpoint, /^127\.0\.0\.1:\d+$/);
      assert.equal(
        await connects(collector.otlpGrpcEndpoint),
        true,
        'the OTLP/gRPC receiver accepts connections',
      );

      const tracer = provider.getTracer('tessera-peer-test');
      const parent = tracer.startSpan('peer-parent', { attributes: { 'tessera.test': 'yes' } });
      const child = tracer.startSpan(
        'peer-child',
        {
          attributes: {
            'tessera.count': 3,
            'tessera.ratio': 0.5,
            'tessera.flag': true,
            'tessera.list': ['a', 'b'],
          },
        },
        trace.setSpan(context.active(), parent),
      );
      child.end();
      parent.end();
      await provider.forceFlush();

      const spans = await collector.waitForSpans((all) => all.length >= 2, 15_000);
      const p = spans.find((s) => s.name === 'peer-parent');
      const c = spans.find((s) => s.name === 'peer-child');
      assert.ok(p && c, `both spans collected: ${spans.map((s) => s.name).join(', ')}`);
      assert.equal(p.traceId, parent.spanContext().traceId);
      assert.equal(p.spanId, parent.spanContext().spanId);
      assert.equal(p.parentSpanId, '');
      assert.equal(c.traceId, p.traceId);
      assert.equal(c.parentSpanId, p.spanId);
      assert.equal(c.spanId, child.spanContext().spanId);
      assert.deepEqual(p.attributes, { 'tessera.test': 'yes' });
      assert.deepEqual(c.attributes, {
        'tessera.count': 3,
        'tessera.ratio': 0.5,
        'tessera.flag': true,
        'tessera.list': ['a', 'b'],
      });
      assert.equal(c.scope, 'tessera-peer-test');
      assert.equal(typeof c.resourceAttributes['service.name'], 'string');
    } finally {
      await provider.shutdown();
      await collector.stop();
    }
    assert.equal((await collector.spans()).length >= 2, true, 'spans() still answers after stop()');
  });
});

void describe('otel collector span decoding', () => {
  void it('decodes OTLP JSON lines', () => {
    const line = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: 'AB'.repeat(16),
                  spanId: 'cd'.repeat(8),
                  name: 'x',
                  kind: 2,
                  attributes: [
                    { key: 'i', value: { intValue: '42' } },
                    { key: 'big', value: { intValue: '9007199254740993' } },
                    {
                      key: 'kv',
                      value: {
                        kvlistValue: { values: [{ key: 'a', value: { boolValue: false } }] },
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const [span] = parseOtlpJsonLines(`${line}\n{"partial`);
    assert.ok(span);
    assert.equal(span.traceId, 'ab'.repeat(16));
    assert.equal(span.parentSpanId, '');
    assert.equal(span.kind, 2);
    assert.deepEqual(span.attributes, { i: 42, big: '9007199254740993', kv: { a: false } });
    assert.deepEqual(span.resourceAttributes, { 'service.name': 'svc' });
  });
});
