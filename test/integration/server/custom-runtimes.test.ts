// Custom runtimes (a model's own JavaScript module) on the real server: the documented example
// (examples/custom-runtime) on a worker thread and on the main thread, every way a module can fail
// to load (each a clear reason in the index, the server serving the rest), every way a predict can
// fail (a 500 or 400 naming the model, the server serving on), and a predict that holds its thread
// while health probes still answer. Streaming has its own file (streaming.test.ts).
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { assertCleanMessage } from '../../support/error-checks.js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';
import { waitFor } from './lifecycle-helpers.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/custom-runtimes');

/** Modules that cannot load, each with the words its reason must contain. */
const BAD_MODULES: readonly {
  name: string;
  implementation: string;
  files?: Record<string, string>;
  says: readonly (string | RegExp)[];
}[] = [
  {
    name: 'load-throws',
    implementation: './model.mjs',
    files: {
      'model.mjs': `export default class M {
        load(settings) { throw new Error('cannot open ' + settings.folder + '/weights.bin'); }
        predict() { return { outputs: [] }; }
      }`,
    },
    says: ['load-throws/model-settings.json', 'M.load() failed: cannot open', 'weights.bin'],
  },
  {
    name: 'load-false',
    implementation: './model.mjs',
    files: { 'model.mjs': 'export default class M { load() { return false; } predict() {} }' },
    says: ['M.load() returned false'],
  },
  {
    name: 'no-predict',
    implementation: './model.mjs',
    files: { 'model.mjs': 'export default class OnlyLoad { load() {} }' },
    says: ['the runtime class OnlyLoad has no predict() method'],
  },
  {
    name: 'no-class',
    implementation: './model.mjs',
    files: { 'model.mjs': 'export const answer = 42;' },
    says: ['./model.mjs exports no runtime class'],
  },
  {
    name: 'no-such-export',
    implementation: './model.mjs#Missing',
    files: { 'model.mjs': 'export default class M { load() {} predict() {} }' },
    says: ["./model.mjs has no exported class 'Missing'"],
  },
  {
    name: 'syntax-error',
    implementation: './model.mjs',
    files: { 'model.mjs': 'export default class {' },
    says: ['cannot import ./model.mjs'],
  },
  {
    name: 'constructor-throws',
    implementation: './model.mjs',
    files: {
      'model.mjs':
        "export default class M { constructor() { throw new Error('no GPU'); } load() {} predict() {} }",
    },
    says: ['the constructor of M failed: no GPU'],
  },
  {
    name: 'escapes',
    implementation: '../ticker/ticker.mjs',
    says: ["'../ticker/ticker.mjs' is outside the model folder"],
  },
  { name: 'symlinked', implementation: './linked.mjs', says: ['leads outside the model folder'] },
  {
    name: 'missing-file',
    implementation: './nope.mjs',
    says: ["'./nope.mjs' does not exist in the model folder"],
  },
  {
    name: 'not-installed',
    implementation: 'tessera-no-such-runtime',
    says: ["package 'tessera-no-such-runtime' is not installed"],
  },
  { name: 'package-no-runtime', implementation: 'zod', says: [/zod exports \d+ classes/] },
  {
    name: 'python-class',
    implementation: 'models.MyCustomRuntime',
    // A Python class goes to the Python worker (docs/python-runtimes.md); none is configured here.
    says: [
      "'models.MyCustomRuntime' is a Python class and no Python is configured",
      'python_executable',
    ],
  },
];

/** predict failure modes of the `faulty` fixture: status and what the message says. */
const PREDICT_FAILURES: readonly { mode: string; status: number; says: (string | RegExp)[] }[] = [
  { mode: 'throw', status: 500, says: ["inference failed in model 'faulty'", 'are corrupt'] },
  { mode: 'async-throw', status: 500, says: ["model 'faulty'", 'cannot read properties'] },
  { mode: 'input-error', status: 400, says: ["model 'faulty': mode input-error is refused"] },
  {
    mode: 'not-object',
    status: 500,
    says: ["model 'faulty' returned a malformed response", "'outputs' array"],
  },
  { mode: 'no-outputs', status: 500, says: ["'outputs' array"] },
  { mode: 'bad-datatype', status: 500, says: ["output 'output': unknown datatype 'TEXT'"] },
  {
    mode: 'count-mismatch',
    status: 500,
    says: ["output 'output': shape [3] needs 3 elements, got 2"],
  },
  { mode: 'bad-element', status: 500, says: ["output 'output': element 0", 'INT32'] },
  { mode: 'duplicate', status: 500, says: ["output 'output' appears more than once"] },
];

const bytesInput = (name: string, text: string) => ({
  inputs: [{ name, datatype: 'BYTES', shape: [1], data: [text] }],
});

async function postJson(
  server: ServerProcess,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function writeModel(dir: string, name: string, settings: object): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(join(dir, name, 'model-settings.json'), JSON.stringify({ name, ...settings }));
}

async function makeRepository(dir: string): Promise<void> {
  await cp(join(REPO_ROOT, 'examples/custom-runtime/text-model'), join(dir, 'text-model'), {
    recursive: true,
  });
  // The same module on the main thread (parallel_workers: 0).
  await cp(join(dir, 'text-model'), join(dir, 'text-model-main'), { recursive: true });
  const settings = JSON.parse(
    await readFile(join(dir, 'text-model', 'model-settings.json'), 'utf8'),
  ) as Record<string, unknown>;
  await writeModel(dir, 'text-model-main', { ...settings, name: undefined, parallel_workers: 0 });
  for (const name of ['ticker', 'faulty', 'blocker']) {
    await cp(join(FIXTURES, name), join(dir, name), { recursive: true });
  }
  for (const bad of BAD_MODULES) {
    await writeModel(dir, bad.name, { implementation: bad.implementation });
    for (const [file, text] of Object.entries(bad.files ?? {})) {
      await writeFile(join(dir, bad.name, file), text);
    }
  }
  await symlink(join(dir, 'ticker', 'ticker.mjs'), join(dir, 'symlinked', 'linked.mjs'));
}

void describe('custom runtimes', () => {
  let dir: string;
  let server: ServerProcess;
  let client: GrpcTestClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-custom-'));
    await makeRepository(dir);
    // One request per thread at a time: a second one while the blocker spins is refused at once.
    // max_worker_threads 1: the ONNX and tree runtimes would share one thread past it, but a
    // custom runtime always gets threads of its own, so the blocker still holds only its own.
    server = await startServer({
      folder: dir,
      timeoutMs: 60_000,
      env: { TESSERA_WORKER_MAX_IN_FLIGHT: '1', TESSERA_MAX_WORKER_THREADS: '1' },
    });
    client = grpcClient(server.grpcAddress);
  });

  after(async () => {
    client.close();
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  void it('serves the example runtime on a worker thread and on the main thread', async () => {
    for (const model of ['text-model', 'text-model-main']) {
      const res = await postJson(
        server,
        `/v2/models/${model}/infer`,
        bytesInput('prompt', 'What is the capital of France?'),
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [output] = res.body['outputs'] as { name: string; data: string[] }[];
      assert.deepEqual(output?.data, ['France? of capital the is What']);
    }
  });

  void it('streams from the main thread as from a worker thread', async () => {
    for (const model of ['text-model', 'text-model-main']) {
      const res = await fetch(`${server.httpUrl}/v2/models/${model}/generate_stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'one two three' }),
      });
      assert.equal(res.status, 200);
      const events = (await res.text())
        .split('\n\n')
        .filter((e) => e !== '')
        .map((e) => (JSON.parse(e.slice('data: '.length)) as { output: string }).output);
      assert.deepEqual(events, ['one', 'two', 'three'], model);
    }
  });

  void it('answers the example over gRPC ModelInfer', async () => {
    const res = await client.call('ModelInfer', {
      model_name: 'text-model',
      inputs: [
        {
          name: 'prompt',
          datatype: 'BYTES',
          shape: [1],
          contents: { bytes_contents: [Buffer.from('a b')] },
        },
      ],
    });
    // Outputs come as raw_output_contents (Triton's default): BYTES elements are a 4-byte
    // little-endian length, then the bytes.
    const raw = (res as { raw_output_contents: Buffer[] }).raw_output_contents[0];
    assert.ok(raw !== undefined, JSON.stringify(res));
    const length = raw.readUInt32LE(0);
    assert.equal(raw.length, 4 + length);
    assert.equal(raw.subarray(4).toString('utf8'), 'b a');
  });

  void it('refuses every bad module with a reason naming it, and keeps serving', async () => {
    const index = await postJson(server, '/v2/repository/index', {});
    const entries = index.body as unknown as { name: string; state: string; reason: string }[];
    for (const bad of BAD_MODULES) {
      const entry = entries.find((e) => e.name === bad.name);
      assert.equal(entry?.state, 'UNAVAILABLE', `${bad.name}: ${JSON.stringify(entry)}`);
      assertCleanMessage(entry.reason, bad.says);
      assert.ok(!entry.reason.includes(dir), `${bad.name} leaks the repository path`);
    }
    const load = await postJson(server, '/v2/repository/models/no-predict/load', {});
    assert.equal(load.status, 422);
    assertCleanMessage(String(load.body['error']), ['has no predict() method']);
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    assert.equal(live.status, 200);
  });

  void it('answers each predict failure with a status and a message naming the model', async () => {
    for (const failure of PREDICT_FAILURES) {
      const res = await postJson(
        server,
        '/v2/models/faulty/infer',
        bytesInput('mode', failure.mode),
      );
      assert.equal(res.status, failure.status, `${failure.mode}: ${JSON.stringify(res.body)}`);
      assertCleanMessage(String(res.body['error']), failure.says);
      assert.doesNotMatch(String(res.body['error']), /srv\/secret/);
    }
    const grpcError = await client
      .call('ModelInfer', {
        model_name: 'faulty',
        inputs: [
          {
            name: 'mode',
            datatype: 'BYTES',
            shape: [1],
            contents: { bytes_contents: [Buffer.from('throw')] },
          },
        ],
      })
      .then(
        () => undefined,
        (error: unknown) => error as { code: number; details: string },
      );
    assert.equal(grpcError?.code, status.INTERNAL);
    assertCleanMessage(grpcError.details, ["inference failed in model 'faulty'"]);
    const ok = await postJson(server, '/v2/models/faulty/infer', bytesInput('mode', 'ok'));
    assert.equal(ok.status, 200, 'the model still serves after its failures');
  });

  void it('answers health probes while a predict holds its thread', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'tessera-blocker-'));
    try {
      const predict = postJson(server, '/v2/models/blocker/infer', bytesInput('folder', folder));
      await waitFor(
        () =>
          readFile(join(folder, 'started')).then(
            () => true,
            () => false,
          ),
        'the blocking predict to start',
        30_000,
      );
      // The predict spins until `release` exists: these answers come while it is still running.
      const live = await fetch(`${server.httpUrl}/v2/health/live`);
      assert.equal(live.status, 200);
      const other = await postJson(
        server,
        '/v2/models/text-model/infer',
        bytesInput('prompt', 'x y'),
      );
      assert.equal(other.status, 200);
      // worker_max_in_flight 1: the blocker's thread is full, so another request is a 503 now.
      const refused = await postJson(
        server,
        '/v2/models/blocker/infer',
        bytesInput('folder', folder),
      );
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assertCleanMessage(String(refused.body['error']), ['worker_max_in_flight']);
      await writeFile(join(folder, 'release'), '');
      const res = await predict;
      assert.equal(res.status, 200);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  void it('replaces a worker thread that dies and serves on the new one', async () => {
    const died = await postJson(server, '/v2/models/faulty/infer', bytesInput('mode', 'exit'));
    assert.equal(died.status, 500, JSON.stringify(died.body));
    assertCleanMessage(String(died.body['error']), [
      "model 'faulty'",
      'the worker thread running the model stopped during this request (exit code 3)',
    ]);
    const ok = await postJson(server, '/v2/models/faulty/infer', bytesInput('mode', 'ok'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(
      server.logs.some(
        (l) =>
          typeof l === 'object' &&
          l !== null &&
          String((l as { msg?: unknown }).msg).startsWith(
            'a worker thread stopped and was replaced',
          ),
      ),
      'the replacement is logged',
    );
    const index = (await (
      await fetch(`${server.httpUrl}/v2/repository/index`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as { name: string; state: string }[];
    assert.equal(index.find((e) => e.name === 'faulty')?.state, 'READY');
  });
});
