// A real OpenTelemetry Collector for tracing tests: the binary built by test/peers/otelcol.peer.mjs
// (TESSERA_OTELCOL), started on free loopback ports with OTLP/HTTP and OTLP/gRPC receivers and a
// file exporter writing OTLP JSON lines to a temporary file, which spans() parses.
//
//   const collector = await startCollector();
//   // point the server's OTLP exporter at collector.otlpHttpEndpoint (+ '/v1/traces')
//   // or collector.otlpGrpcEndpoint, then:
//   const spans = await collector.waitForSpans((all) => all.some((s) => s.name === 'infer'));
//   await collector.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';

export interface CollectedSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** 16 lowercase hex digits, or '' for a root span. */
  parentSpanId: string;
  name: string;
  /** Span attributes decoded from OTLP AnyValue: strings, numbers, booleans, arrays, objects. */
  attributes: Record<string, unknown>;
  /** OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer (0 unspecified). */
  kind: number;
  /** OTLP status code: 0 unset, 1 ok, 2 error; and its message. */
  status: { code: number; message: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** Attributes of the resource that reported the span (service.name, ...). */
  resourceAttributes: Record<string, unknown>;
  /** The instrumentation scope's name. */
  scope: string;
}

export interface Collector {
  /** Base URL of the OTLP/HTTP receiver, e.g. http://127.0.0.1:4318 (traces go to /v1/traces). */
  otlpHttpEndpoint: string;
  /** host:port of the OTLP/gRPC receiver, e.g. 127.0.0.1:4317 (for a gRPC exporter: http://...). */
  otlpGrpcEndpoint: string;
  /** Every span the collector has written so far (after stop(): the final set). */
  spans(): Promise<CollectedSpan[]>;
  /** Polls spans() until `until` holds (default: at least one span); rejects after timeoutMs. */
  waitForSpans(
    until?: (spans: CollectedSpan[]) => boolean,
    timeoutMs?: number,
  ): Promise<CollectedSpan[]>;
  /** Stops the collector (SIGTERM, then SIGKILL after 5 s) and removes its temporary folder. */
  stop(): Promise<void>;
}

export interface StartCollectorOptions {
  /** Path of the collector binary; default process.env.TESSERA_OTELCOL. */
  binary?: string;
  /** How long to wait for the collector to be ready; default 20 s. */
  readyTimeoutMs?: number;
}

const READY_LINE = /Everything is ready/;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => {
      finish(true);
    });
    socket.once('error', () => {
      finish(false);
    });
    socket.once('timeout', () => {
      finish(false);
    });
  });
}

function collectorConfig(grpcPort: number, httpPort: number, file: string): string {
  // JSON is valid YAML; the collector reads it with `--config file:<path>`.
  return JSON.stringify(
    {
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: `127.0.0.1:${grpcPort}` },
            http: { endpoint: `127.0.0.1:${httpPort}` },
          },
        },
      },
      exporters: {
        file: { path: file, format: 'json', flush_interval: '100ms' },
      },
      service: {
        telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
        pipelines: { traces: { receivers: ['otlp'], exporters: ['file'] } },
      },
    },
    null,
    2,
  );
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Decodes an OTLP JSON AnyValue. int64 values become numbers when safe, strings otherwise. */
export function decodeAnyValue(value: unknown): unknown {
  if (!isObject(value)) return undefined;
  if ('stringValue' in value) return value['stringValue'];
  if ('boolValue' in value) return value['boolValue'];
  if ('intValue' in value) {
    const n = Number(value['intValue']);
    return Number.isSafeInteger(n) ? n : String(value['intValue']);
  }
  if ('doubleValue' in value) {
    const d = value['doubleValue'];
    return typeof d === 'string' ? Number(d) : d;
  }
  if ('bytesValue' in value) return value['bytesValue'];
  if ('arrayValue' in value) {
    const arr = value['arrayValue'];
    return asArray(isObject(arr) ? arr['values'] : undefined).map(decodeAnyValue);
  }
  if ('kvlistValue' in value) {
    const kv = value['kvlistValue'];
    return decodeAttributes(isObject(kv) ? kv['values'] : undefined);
  }
  return undefined;
}

function decodeAttributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of asArray(list)) {
    if (isObject(entry) && typeof entry['key'] === 'string')
      out[entry['key']] = decodeAnyValue(entry['value']);
  }
  return out;
}

function nanos(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function decodeSpan(
  span: Json,
  resourceAttributes: Record<string, unknown>,
  scope: string,
): CollectedSpan {
  const status = isObject(span['status']) ? span['status'] : {};
  return {
    traceId: str(span['traceId']).toLowerCase(),
    spanId: str(span['spanId']).toLowerCase(),
    parentSpanId: str(span['parentSpanId']).toLowerCase(),
    name: str(span['name']),
    attributes: decodeAttributes(span['attributes']),
    kind: typeof span['kind'] === 'number' ? span['kind'] : 0,
    status: {
      code: typeof status['code'] === 'number' ? status['code'] : 0,
      message: str(status['message']),
    },
    startTimeUnixNano: nanos(span['startTimeUnixNano']),
    endTimeUnixNano: nanos(span['endTimeUnixNano']),
    resourceAttributes,
    scope,
  };
}

function decodeRequest(doc: Json, spans: CollectedSpan[]): void {
  for (const rs of asArray(doc['resourceSpans'])) {
    if (!isObject(rs)) continue;
    const resource = isObject(rs['resource']) ? rs['resource'] : {};
    const resourceAttributes = decodeAttributes(resource['attributes']);
    for (const ss of asArray(rs['scopeSpans'])) {
      if (!isObject(ss)) continue;
      const scope = isObject(ss['scope']) ? str(ss['scope']['name']) : '';
      for (const span of asArray(ss['spans'])) {
        if (isObject(span)) spans.push(decodeSpan(span, resourceAttributes, scope));
      }
    }
  }
}

/** Parses the file exporter's output: one OTLP JSON ExportTraceServiceRequest per line. */
export function parseOtlpJsonLines(text: string): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      continue; // a line still being written
    }
    if (isObject(doc)) decodeRequest(doc, spans);
  }
  return spans;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntilReady(
  child: ChildProcess,
  ports: number[],
  output: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the collector exited during startup (${String(child.exitCode ?? child.signalCode)}): ${output()}`,
      );
    }
    if (READY_LINE.test(output())) {
      const open = await Promise.all(ports.map(canConnect));
      if (open.every(Boolean)) return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the collector was not ready after ${timeoutMs} ms: ${output()}`);
    }
    await delay(100);
  }
}

/** Starts a collector on free loopback ports and resolves once both receivers accept connections. */
export async function startCollector(options: StartCollectorOptions = {}): Promise<Collector> {
  const binary = options.binary ?? process.env['TESSERA_OTELCOL'];
  if (binary === undefined || binary === '') {
    throw new Error(
      'TESSERA_OTELCOL is not set: run the tests through scripts/run-tests.mjs, whose test/peers/otelcol.peer.mjs builds the collector',
    );
  }
  if (!existsSync(binary)) throw new Error(`TESSERA_OTELCOL points to a missing file: ${binary}`);

  const dir = await mkdtemp(join(tmpdir(), 'tessera-otelcol-'));
  const file = join(dir, 'spans.jsonl');
  const configPath = join(dir, 'config.yaml');
  const grpcPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === grpcPort) httpPort = await freePort();
  await writeFile(configPath, collectorConfig(grpcPort, httpPort, file));

  const child = spawn(binary, ['--config', `file:${configPath}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const onData = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const tail = (): string => log.trim().split('\n').slice(-8).join('\n');

  let finalSpans: CollectedSpan[] | undefined;
  const readSpans = async (): Promise<CollectedSpan[]> => {
    if (finalSpans !== undefined) return finalSpans;
    if (!existsSync(file)) return [];
    return parseOtlpJsonLines(await readFile(file, 'utf8'));
  };

  const stop = async (): Promise<void> => {
    if (finalSpans !== undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 5000))) {
        child.kill('SIGKILL');
        await waitForExit(child, 5000);
      }
    }
    finalSpans = existsSync(file) ? parseOtlpJsonLines(await readFile(file, 'utf8')) : [];
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitUntilReady(child, [grpcPort, httpPort], tail, options.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    otlpHttpEndpoint: `http://127.0.0.1:${httpPort}`,
    otlpGrpcEndpoint: `127.0.0.1:${grpcPort}`,
    spans: readSpans,
    async waitForSpans(until = (spans) => spans.length > 0, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const spans = await readSpans();
        if (until(spans)) return spans;
        if (Date.now() > deadline) {
          throw new Error(
            `spans not seen within ${timeoutMs} ms; have ${spans.length}: ${spans.map((s) => s.name).join(', ')}`,
          );
        }
        await delay(100);
      }
    },
    stop,
  };
}
