// Small REST/gRPC helpers shared by the lifecycle, shutdown, metrics and tracing tests.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServiceError } from '@grpc/grpc-js';
import type { GrpcTestClient } from '../../support/grpc-client.js';

export interface HttpResult {
  status: number;
  headers: Headers;
  body: unknown;
}

/** POSTs JSON (or nothing) and parses the JSON answer; never throws on a status code. */
export async function postJson(
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<HttpResult> {
  const response = await fetch(url, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}

export async function restIndex(httpUrl: string, ready?: boolean): Promise<IndexEntry[]> {
  const result = await postJson(
    `${httpUrl}/v2/repository/index`,
    ready === undefined ? {} : { ready },
  );
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return result.body as IndexEntry[];
}

export async function grpcIndex(
  client: GrpcTestClient,
  ready: boolean,
  service: 'inference' | 'repository' = 'repository',
): Promise<IndexEntry[]> {
  const response = await client.call<{ models: IndexEntry[] }>(
    'RepositoryIndex',
    { repository_name: '', ready },
    { service },
  );
  return response.models;
}

/** The `simple` model's request: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1. */
export function simpleRestRequest(rows = 1, base = 1): object {
  const a = Array.from({ length: rows * 16 }, (_, i) => base + i);
  const b = Array.from({ length: rows * 16 }, () => 1);
  return {
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: b },
    ],
  };
}

export function simpleGrpcRequest(model = 'simple', base = 1): object {
  const a = Array.from({ length: 16 }, (_, i) => base + i);
  const b = Array.from({ length: 16 }, () => 1);
  return {
    model_name: model,
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
    ],
  };
}

/** The `versioned` fixture's request: y = x + version. */
export function versionedRestRequest(x: readonly number[] = [1, 2]): object {
  return { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [...x] }] };
}

export function versionedGrpcRequest(version = '', x: readonly number[] = [1, 2]): object {
  return {
    model_name: 'versioned',
    model_version: version,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [...x] } }],
  };
}

/** The iris model's request with `rows` rows (a big batch keeps the model busy for a while). */
export function irisRestRequest(rows: number): object {
  const data = Array.from({ length: rows * 4 }, (_, i) => 0.1 + (i % 7) * 0.5);
  return { inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 4], data }] };
}

/** The first output's data of a REST answer. */
export function outputData(body: unknown, name?: string): number[] {
  const outputs = (body as { outputs: { name: string; data: number[] }[] }).outputs;
  const output = name === undefined ? outputs[0] : outputs.find((o) => o.name === name);
  assert.ok(output, `output ${name ?? '#0'} in ${JSON.stringify(body)}`);
  return output.data;
}

/** A gRPC error's code, or a failure if the call succeeded. */
export async function grpcCode(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as ServiceError;
    return { code: e.code, details: e.details };
  }
  assert.fail('expected the RPC to fail');
}

/**
 * Polls `check` until it returns true; fails after `timeoutMs`, with what `diagnostics` says
 * (container logs, the objects seen) appended to the message.
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
  diagnostics?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await delay(50);
  }
  assert.fail(
    `timed out after ${timeoutMs} ms waiting for ${what}${diagnostics ? `\n${diagnostics()}` : ''}`,
  );
}

/** An iris ModelInfer with `rows` rows as raw little-endian FP32 (cheap to decode, slow to run). */
export function irisGrpcRawRequest(rows: number): object {
  const values = new Float32Array(rows * 4);
  for (let i = 0; i < values.length; i++) values[i] = 0.1 + (i % 7) * 0.5;
  return {
    model_name: 'iris',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [rows, 4] }],
    raw_input_contents: [Buffer.from(values.buffer, values.byteOffset, values.byteLength)],
  };
}

/**
 * A request for the `slow` fixture: y = x + n, computed as n sequential "+1" steps (ONNX Loop), so
 * the run time grows with n (about 1 ms per 1,000 steps) whatever the number of cores.
 */
export function slowRestRequest(n: number, x: readonly number[] = [0, 1, 2, 3]): object {
  return {
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [1, 4], data: [...x] },
      { name: 'n', datatype: 'INT64', shape: [1], data: [n] },
    ],
  };
}

export function slowGrpcRequest(n: number, x: readonly number[] = [0, 1, 2, 3]): object {
  return {
    model_name: 'slow',
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [...x] } },
      { name: 'n', datatype: 'INT64', shape: [1], contents: { int64_contents: [String(n)] } },
    ],
  };
}
