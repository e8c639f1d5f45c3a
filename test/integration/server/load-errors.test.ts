// Load failures in the user's terms (reliability-catalogue §3.6, §4 C39): an empty model.onnx, a
// file of garbage and a truncated model, in a repository whose path contains spaces. The index
// reason and the load error say what is wrong with the file and carry no C++ frame, no
// onnxruntime source path and no fragment of the repository's path; the server keeps serving. A
// content type that model-settings.json misspells fails the load, naming the field.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  assertCleanMessage,
  assertGrpcError,
  assertRestError,
  assertRestServes,
} from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';

/** Words of the repository folder's name: none may appear in a message. */
const FOLDER_WORDS = ['tessera load', 'with spaces', 'spaces'];
const NATIVE = [/onnxruntime::/, /\.cc:\d+/, /onnxruntime_src/, /faile</, /<path>/];

const CASES = [
  { model: 'empty', says: 'model.onnx is empty' },
  { model: 'garbage', says: 'model.onnx is not an ONNX file' },
  { model: 'truncated', says: 'model.onnx is not a valid ONNX file' },
  {
    model: 'typo-content-type',
    says: "inputs[0] 'input': parameters.content_type: unknown content type 'nump'; known content types: np, pd, str, base64, datetime",
  },
] as const;

/** model-settings.json fields beyond name and implementation, per model. */
const SETTINGS: Record<string, object> = {
  'typo-content-type': {
    inputs: [
      { name: 'input', datatype: 'FP32', shape: [-1, 4], parameters: { content_type: 'nump' } },
    ],
  },
};

function assertUserTerms(message: string, says: string): void {
  assertCleanMessage(message, [says]);
  for (const word of FOLDER_WORDS)
    assert.ok(!message.includes(word), `leaks '${word}': ${message}`);
  for (const pattern of NATIVE) assert.doesNotMatch(message, pattern);
}

void describe('model load errors in user terms', () => {
  let parent: string;
  let server: ServerProcess;
  let client: GrpcTestClient;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'tessera load errors with spaces '));
    const repo = join(parent, 'my models');
    await mkdir(repo);
    await cp(join(REPO_ROOT, 'examples/models/iris'), join(repo, 'iris'), { recursive: true });
    const iris = await readFile(join(REPO_ROOT, 'examples/models/iris/model.onnx'));
    const files: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      garbage: await readFile(join(REPO_ROOT, 'test/fixtures/models/broken/model.onnx')),
      truncated: iris.subarray(0, 64),
      'typo-content-type': iris,
    };
    for (const [name, bytes] of Object.entries(files)) {
      await mkdir(join(repo, name));
      await writeFile(join(repo, name, 'model.onnx'), bytes);
      await writeFile(
        join(repo, name, 'model-settings.json'),
        JSON.stringify({
          name,
          implementation: 'onnx',
          parameters: { uri: './model.onnx' },
          ...SETTINGS[name],
        }),
      );
    }
    server = await startServer({ folder: repo });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    await server.stop();
    await rm(parent, { recursive: true, force: true });
  });

  void it('gives each failed model an index reason that names the problem', async () => {
    const response = await fetch(`${server.httpUrl}/v2/repository/index`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    const index = (await response.json()) as { name: string; state: string; reason: string }[];
    for (const { model, says } of CASES) {
      const entry = index.find((e) => e.name === model);
      assert.equal(entry?.state, 'UNAVAILABLE', `${model} failed to load`);
      assertUserTerms(entry.reason, says);
    }
    assert.equal(index.find((e) => e.name === 'iris')?.state, 'READY');
  });

  void it('answers a load with 422 / FAILED_PRECONDITION in the same words', async () => {
    for (const { model, says } of CASES) {
      const response = await fetch(`${server.httpUrl}/v2/repository/models/${model}/load`, {
        method: 'POST',
      });
      assertUserTerms(await assertRestError(response, 422, [`model '${model}'`]), says);
      const details = await assertGrpcError(
        client.call('RepositoryModelLoad', { model_name: model }),
        status.FAILED_PRECONDITION,
        [`model '${model}'`],
      );
      assertUserTerms(details, says);
    }
    await assertRestServes(server.httpUrl, 'iris');
  });
});
