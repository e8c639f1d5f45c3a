/**
 * OpenTelemetry tracing: off unless `tracing_server` is set (MLServer's setting). Spans are created
 * by the adapters (one per REST or gRPC request, with the W3C `traceparent` extracted) and by the
 * core (one per model inference). No auto-instrumentation is loaded, so start order does not matter.
 */
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Settings } from '../config.js';

/** A running tracing pipeline. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/** Starts tracing when configured; otherwise returns a no-op. */
export function startTracing(
  settings: Pick<
    Settings,
    'tracing_server' | 'tracing_protocol' | 'tracing_service_name' | 'server_version'
  >,
): Tracing {
  if (settings.tracing_server === null) return { shutdown: () => Promise.resolve() };
  const exporter =
    settings.tracing_protocol === 'grpc'
      ? new OtlpGrpcExporter({ url: withScheme(settings.tracing_server) })
      : new OtlpProtoExporter({ url: httpTracesUrl(settings.tracing_server) });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: settings.tracing_service_name,
      [ATTR_SERVICE_VERSION]: settings.server_version,
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

/** MLServer's `tracing_server` is `host:port`; the gRPC exporter wants a URL. */
function withScheme(address: string): string {
  return /^[a-z]+:\/\//.test(address) ? address : `http://${address}`;
}

function httpTracesUrl(address: string): string {
  const base = withScheme(address).replace(/\/$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}
