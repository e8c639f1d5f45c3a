// Assertions shared by the bad-input and limits tests: the shape and hygiene of error answers
// (reliability-catalogue §3.6 "Information leaks in errors") and the "keeps serving" rule (§4:
// `/v2/health/live` is 200 and a known-good inference on the same model succeeds).
import assert from 'node:assert/strict';
import { homedir, tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { GrpcTestClient } from './grpc-client.js';
import { REPO_ROOT } from './server-process.js';

/** Things an error message must never contain: file paths of this host and stack frames. */
const LEAKS: readonly (string | RegExp)[] = [
  // The checkout, the folder that holds it, the temp folder and the home folder, wherever they are.
  REPO_ROOT,
  dirname(REPO_ROOT),
  tmpdir(),
  '/tmp',
  homedir(),
  'node_modules',
  'server/dist',
  'server/src',
  /\bat .+:\d+:\d+/,
  /\n\s+at /,
].filter((leak) => typeof leak !== 'string' || leak.length > 1); // never '/' itself

/** Asserts that a message names what is wrong (every `mentions` entry) and leaks nothing. */
export function assertCleanMessage(message: string, mentions: readonly (string | RegExp)[]): void {
  // Messages quote client-supplied names; those must be shortened, never echoed whole.
  assert.ok(
    message.length <= 2048,
    `message is ${message.length} characters long: ${message.slice(0, 200)}…`,
  );
  for (const leak of LEAKS) {
    if (typeof leak === 'string')
      assert.ok(!message.includes(leak), `message leaks '${leak}': ${message}`);
    else assert.doesNotMatch(message, leak, `message leaks a stack frame: ${message}`);
  }
  for (const mention of mentions) {
    if (typeof mention === 'string')
      assert.ok(message.includes(mention), `message should mention '${mention}': ${message}`);
    else assert.match(message, mention);
  }
}

/** Asserts a REST error response: the status, and a body that is exactly `{"error": "<clean message>"}`. */
export async function assertRestError(
  response: Response,
  expectedStatus: number,
  mentions: readonly (string | RegExp)[],
): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, expectedStatus, `HTTP status (body: ${text.slice(0, 300)})`);
  assert.match(
    response.headers.get('content-type') ?? '',
    /^application\/json/,
    'error bodies are JSON',
  );
  const body = JSON.parse(text) as unknown;
  assert.ok(
    typeof body === 'object' && body !== null && !Array.isArray(body),
    'error body is an object',
  );
  assert.deepEqual(Object.keys(body), ['error'], `error body has exactly one key 'error': ${text}`);
  const message = (body as { error: unknown }).error;
  assert.equal(typeof message, 'string', 'error is a string');
  assertCleanMessage(message as string, mentions);
  return message as string;
}

/** Runs a gRPC call that must fail, and asserts its status code and a clean `details` text. */
export async function assertGrpcError(
  call: Promise<unknown>,
  expectedCode: status,
  mentions: readonly (string | RegExp)[],
): Promise<string> {
  let failure: ServiceError | undefined;
  try {
    await call;
  } catch (error) {
    failure = error as ServiceError;
  }
  assert.ok(failure !== undefined, 'the call should fail');
  assert.equal(
    failure.code,
    expectedCode,
    `gRPC status ${status[failure.code]} (${failure.details}), expected ${status[expectedCode]}`,
  );
  assertCleanMessage(failure.details, mentions);
  return failure.details;
}

/** The models the tests run a known-good inference on. */
export type GoodModel = 'simple' | 'iris' | 'strings';

const SEQ = Array.from({ length: 16 }, (_, i) => i + 1);

/** A known-good REST inference on `model`, checked for its values; plus `/v2/health/live` 200. */
export async function assertRestServes(httpUrl: string, model: GoodModel): Promise<void> {
  const live = await fetch(`${httpUrl}/v2/health/live`);
  assert.equal(live.status, 200, 'health/live is 200');
  await live.body?.cancel();
  const inputs = {
    simple: [
      { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: SEQ },
      { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: SEQ.map(() => 1) },
    ],
    iris: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
    strings: [{ name: 'input', shape: [2], datatype: 'BYTES', data: ['ab', 'c'] }],
  }[model];
  const response = await fetch(`${httpUrl}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs }),
  });
  const text = await response.text();
  assert.equal(
    response.status,
    200,
    `good inference on ${model} still works: ${text.slice(0, 300)}`,
  );
  const body = JSON.parse(text) as { outputs: { name: string; data: unknown[] }[] };
  if (model === 'simple') {
    const sum = body.outputs.find((o) => o.name === 'OUTPUT0');
    assert.deepEqual(
      sum?.data,
      SEQ.map((v) => v + 1),
    );
  } else {
    assert.ok(body.outputs.length > 0, `${model} returns outputs`);
  }
}

/** A known-good gRPC inference on `model`, checked for its values; plus ServerLive. */
export async function assertGrpcServes(client: GrpcTestClient, model: GoodModel): Promise<void> {
  const live = await client.call<{ live: boolean }>('ServerLive', {});
  assert.equal(live.live, true, 'ServerLive is true');
  const inputs = {
    simple: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: SEQ } },
      {
        name: 'INPUT1',
        datatype: 'INT32',
        shape: [1, 16],
        contents: { int_contents: SEQ.map(() => 1) },
      },
    ],
    iris: [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [1, 4],
        contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] },
      },
    ],
    strings: [
      {
        name: 'input',
        datatype: 'BYTES',
        shape: [2],
        contents: { bytes_contents: [Buffer.from('ab'), Buffer.from('c')] },
      },
    ],
  }[model];
  const response = await client.call<{
    outputs: { name: string }[];
    raw_output_contents: Buffer[];
  }>('ModelInfer', { model_name: model, inputs });
  if (model === 'simple') {
    // Outputs travel as raw_output_contents even for a typed request, as Triton sends them.
    const raw =
      response.raw_output_contents[response.outputs.findIndex((o) => o.name === 'OUTPUT0')];
    assert.ok(raw, 'OUTPUT0 has raw contents');
    assert.deepEqual(
      Array.from({ length: raw.length / 4 }, (_, i) => raw.readInt32LE(i * 4)),
      SEQ.map((v) => v + 1),
    );
  } else {
    assert.ok(response.outputs.length > 0, `${model} returns outputs`);
  }
}
