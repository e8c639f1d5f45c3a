// The agent against the real server (admin port) as processes, with http(s) and local sources:
// load → the model answers V2 infer; idempotent reloads; a zero-downtime update under constant
// load; a failed update keeps the old version serving; clear, secret-free errors for missing,
// stalled, hostile and refused sources; unload removes files; restart discards half-done pulls.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCleanMessage } from '../../support/error-checks.js';
import { tarGz, zip } from '../../support/archives.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { postJson, versionedRestRequest } from '../server/lifecycle-helpers.js';
import {
  assertSimpleAnswers,
  agentIndex,
  agentLoad,
  agentMetric,
  errorOf,
  inferVersioned,
  startPod,
  type Pod,
} from './agent-harness.js';

const fixture = (path: string): Promise<Buffer> => readFile(join(REPO_ROOT, path));

/** A loopback file server; `/stall` sends headers and part of a body, then nothing. */
async function fileServer(files: Map<string, Buffer>): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path === '/stall') {
      response.writeHead(200, { 'content-length': '1000000' });
      response.write(Buffer.alloc(10));
      return;
    }
    if (path === '/to-metadata') {
      response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    }
    const body = files.get(path);
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

void describe('agent: http and local sources', () => {
  let pod: Pod;
  let files: { url: string; server: Server };

  before(async () => {
    const irisDir = join(REPO_ROOT, 'examples/models/iris');
    files = await fileServer(
      new Map([
        ['/simple/model.onnx', await fixture('examples/models/simple/model.onnx')],
        ['/v1/model.onnx', await fixture('test/fixtures/models/versioned/1/model.onnx')],
        ['/v2/model.onnx', await fixture('test/fixtures/models/versioned/2/model.onnx')],
        ['/broken/model.onnx', await fixture('test/fixtures/models/broken/model.onnx')],
        [
          '/iris.tar.gz',
          await tarGz([
            { name: 'iris/', type: 'directory' },
            { name: 'iris/model.onnx', content: await readFile(join(irisDir, 'model.onnx')) },
            {
              name: 'iris/model-settings.json',
              content: await readFile(join(irisDir, 'model-settings.json')),
            },
          ]),
        ],
        ['/evil.tar.gz', await tarGz([{ name: '../../escaped.txt', content: Buffer.from('x') }])],
        [
          '/link.tar.gz',
          await tarGz([{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }]),
        ],
        [
          '/bomb.zip',
          zip([{ name: 'zeros.bin', content: Buffer.alloc(4 * 1024 * 1024), deflate: true }]),
        ],
      ]),
    );
    pod = await startPod({ TESSERA_AGENT_MAX_EXTRACTED_BYTES: String(1024 * 1024) });
    await cp(join(REPO_ROOT, 'examples/models/iris'), join(pod.localRoot, 'iris'), {
      recursive: true,
    });
  });

  after(async () => {
    await pod.stop();
    files.server.close();
  });

  it('loads a model from http and the server answers V2 infer', async () => {
    const load = await agentLoad(pod, 'simple', {
      storage_uri: `${files.url}/simple/model.onnx`,
      model_format: 'onnx',
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    await assertSimpleAnswers(pod, 'simple');
    const entry = (await agentIndex(pod)).find((e) => e.name === 'simple');
    assert.equal(entry?.state, 'READY');
    assert.equal(entry?.storage_uri, `${files.url}/simple/model.onnx`);
    assert.equal(entry?.pull?.phase, 'Pulled');
    assert.ok((entry?.pull?.bytes ?? 0) > 0);
  });

  it('treats a repeated load of the same storage_uri as a no-op, and joins concurrent ones', async () => {
    const pullsBefore = await agentMetric(pod, 'tessera_agent_pulls_total', { scheme: 'http' });
    const noopsBefore = await agentMetric(pod, 'tessera_agent_loads_total', { outcome: 'noop' });
    const params = { storage_uri: `${files.url}/simple/model.onnx` };
    const results = await Promise.all([
      agentLoad(pod, 'simple', params),
      agentLoad(pod, 'simple', params),
    ]);
    for (const r of results) assert.equal(r.status, 200);
    assert.equal(
      await agentMetric(pod, 'tessera_agent_pulls_total', { scheme: 'http' }),
      pullsBefore,
    );
    assert.ok(
      (await agentMetric(pod, 'tessera_agent_loads_total', { outcome: 'noop' })) > noopsBefore,
    );
  });

  it('extracts a tar.gz artefact and forces its model-settings.json name to the requested one', async () => {
    const load = await agentLoad(pod, 'flowers', { storage_uri: `${files.url}/iris.tar.gz` });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    const infer = await postJson(`${pod.server.httpUrl}/v2/models/flowers/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    });
    assert.equal(infer.status, 200, JSON.stringify(infer.body));
  });

  it('loads from a local folder inside the allowed roots', async () => {
    const load = await agentLoad(pod, 'iris-local', {
      storage_uri: `file://${join(pod.localRoot, 'iris')}`,
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    const ready = await fetch(`${pod.server.httpUrl}/v2/models/iris-local/ready`);
    assert.equal(ready.status, 200);
  });

  it('updates to a new storage_uri with zero failed requests under constant load, then frees the old files', async () => {
    assert.equal(
      (await agentLoad(pod, 'adder', { storage_uri: `${files.url}/v1/model.onnx` })).status,
      200,
    );
    assert.deepEqual(await inferVersioned(pod, 'adder'), [2, 3]);
    const artefactsBefore = await readdir(join(pod.modelDir, '.tessera-agent/artefacts'));
    let stop = false;
    let failures = 0;
    let answered = 0;
    const load = async (): Promise<void> => {
      for (let i = 0; i < 5000 && !stop; i++) {
        const r = await postJson(
          `${pod.server.httpUrl}/v2/models/adder/infer`,
          versionedRestRequest([1, 2]),
        );
        answered++;
        if (r.status !== 200) failures++;
      }
    };
    const loops = [load(), load()];
    const update = await agentLoad(pod, 'adder', { storage_uri: `${files.url}/v2/model.onnx` });
    stop = true;
    await Promise.all(loops);
    assert.equal(update.status, 200, JSON.stringify(update.body));
    assert.ok(answered > 0);
    assert.equal(failures, 0, `${failures} of ${answered} requests failed during the update`);
    assert.deepEqual(await inferVersioned(pod, 'adder'), [3, 4]);
    const artefactsAfter = await readdir(join(pod.modelDir, '.tessera-agent/artefacts'));
    assert.equal(artefactsAfter.length, artefactsBefore.length, 'the old artefact was removed');
  });

  it('keeps the old version serving when the new one fails, and says why', async () => {
    const update = await agentLoad(pod, 'adder', { storage_uri: `${files.url}/broken/model.onnx` });
    assert.equal(update.status, 422);
    assertCleanMessage(errorOf(update), ['adder']);
    assert.deepEqual(await inferVersioned(pod, 'adder'), [3, 4]);
    const entry = (await agentIndex(pod)).find((e) => e.name === 'adder');
    assert.equal(entry?.state, 'READY');
    assert.equal(entry?.storage_uri, `${files.url}/v2/model.onnx`);
    assert.equal(entry?.pull?.phase, 'Failed');
    assert.ok(entry?.pull?.message);
    const settings = await readFile(join(pod.modelDir, 'adder/model-settings.json'), 'utf8');
    assert.match(settings, /v2\/model\.onnx/);
  });

  it('reports a missing object and a stalled transfer in the response and the index', async () => {
    const missing = await agentLoad(pod, 'missing', {
      storage_uri: `${files.url}/nothing/model.onnx`,
    });
    assert.equal(missing.status, 424);
    assertCleanMessage(errorOf(missing), ['not found']);
    const stall = await agentLoad(pod, 'stalled', { storage_uri: `${files.url}/stall` });
    assert.equal(stall.status, 504);
    assertCleanMessage(errorOf(stall), ['stalled']);
    const index = await agentIndex(pod);
    for (const name of ['missing', 'stalled']) {
      const entry = index.find((e) => e.name === name);
      assert.equal(entry?.pull?.phase, 'Failed', name);
      assert.equal(entry?.state, 'UNAVAILABLE');
      assert.ok(entry?.pull?.message);
    }
    const staging = await readdir(join(pod.modelDir, '.tessera-agent/staging'));
    assert.deepEqual(staging, [], 'failed pulls leave no staging folder');
  });

  it('rejects archive traversal, links leaving the folder and bombs', async () => {
    for (const [name, mention] of [
      ['evil.tar.gz', "contains '..'"],
      ['link.tar.gz', 'points outside'],
      ['bomb.zip', 'expands past'],
    ] as const) {
      const result = await agentLoad(pod, 'hostile', { storage_uri: `${files.url}/${name}` });
      assert.equal(result.status, 422, name);
      assertCleanMessage(errorOf(result), [mention]);
    }
    await assert.rejects(readFile(join(pod.modelDir, '..', 'escaped.txt')));
  });

  it('refuses files outside the allowed roots and metadata addresses, also behind a redirect', async () => {
    for (const uri of [
      '/etc/passwd',
      'file:///etc/hostname',
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
      `${files.url}/to-metadata`,
    ]) {
      const result = await agentLoad(pod, 'refused', { storage_uri: uri });
      assert.equal(result.status, 403, uri);
      assertCleanMessage(errorOf(result), ['refused']);
    }
  });

  it('unloads on the server first, then removes the files', async () => {
    const unload = await postJson(`${pod.agent.url}/v2/repository/models/adder/unload`, {});
    assert.equal(unload.status, 200, JSON.stringify(unload.body));
    const ready = await fetch(`${pod.server.httpUrl}/v2/models/adder/ready`);
    assert.equal(ready.status, 503);
    await assert.rejects(readFile(join(pod.modelDir, 'adder/model-settings.json')));
    const index = await agentIndex(pod);
    assert.equal(index.find((e) => e.name === 'adder')?.storage_uri, undefined);
  });

  it('discards a half-done staging folder after a restart and pulls cleanly', async () => {
    const partial = join(pod.modelDir, '.tessera-agent/staging/dead-pull/raw');
    await mkdir(partial, { recursive: true });
    await writeFile(join(partial, 'model.onnx'), Buffer.alloc(100));
    await pod.restartAgent();
    assert.deepEqual(await readdir(join(pod.modelDir, '.tessera-agent/staging')), []);
    const load = await agentLoad(pod, 'adder', { storage_uri: `${files.url}/v1/model.onnx` });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.deepEqual(await inferVersioned(pod, 'adder'), [2, 3]);
    // What the previous agent placed is recognised: a repeated load is a no-op.
    const simple = await agentLoad(pod, 'simple', {
      storage_uri: `${files.url}/simple/model.onnx`,
    });
    assert.equal(simple.status, 200);
    assert.equal(
      await agentMetric(pod, 'tessera_agent_pulls_total', { scheme: 'http', outcome: 'success' }),
      1,
    );
  });

  it('answers its probes', async () => {
    assert.equal((await fetch(`${pod.agent.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${pod.agent.url}/readyz`)).status, 200);
  });
});

void describe('agent: http through a storage-config entry (headers)', () => {
  const TOKEN = 'Bearer tok-0123456789abcdef';
  let pod: Pod;
  let model: Buffer;
  let origin: Server;
  let other: Server;
  let originUrl: string;
  let otherUrl: string;
  const seenElsewhere: (string | undefined)[] = [];
  const listen = async (server: Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  before(async () => {
    model = await fixture('examples/models/simple/model.onnx');
    // A private origin: 401 without the entry's header; one path redirects to another origin.
    origin = createServer((request, response) => {
      if (request.headers.authorization !== TOKEN) {
        response.writeHead(401).end();
        return;
      }
      if (request.url === '/private/away/model.onnx') {
        response.writeHead(302, { location: `${otherUrl}/model.onnx` }).end();
        return;
      }
      response.writeHead(200, { 'content-length': String(model.length) }).end(model);
    });
    other = createServer((request, response) => {
      seenElsewhere.push(request.headers.authorization);
      response.writeHead(200, { 'content-length': String(model.length) }).end(model);
    });
    originUrl = await listen(origin);
    otherUrl = await listen(other);
    pod = await startPod();
    await writeFile(
      join(pod.storageConfigDir, 'web'),
      JSON.stringify({
        type: 'http',
        url: `${originUrl}/private/`,
        headers: { Authorization: TOKEN },
      }),
    );
  });

  after(async () => {
    await pod.stop();
    origin.close();
    other.close();
  });

  it('is denied without the key, and loads with it', async () => {
    const denied = await agentLoad(pod, 'simple', {
      storage_uri: `${originUrl}/private/model.onnx`,
    });
    assert.equal(denied.status, 424, JSON.stringify(denied.body));
    assertCleanMessage(errorOf(denied), ['denied', 'HTTP 401']);
    const load = await agentLoad(pod, 'simple', {
      storage_uri: `${originUrl}/private/model.onnx`,
      storage_key: 'web',
    });
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal((await fetch(`${pod.server.httpUrl}/v2/models/simple/ready`)).status, 200);
  });

  it('never sends the headers to another origin, neither directly nor by a redirect', async () => {
    const outside = await agentLoad(pod, 'outside', {
      storage_uri: `${otherUrl}/model.onnx`,
      storage_key: 'web',
    });
    assert.equal(outside.status, 424);
    assertCleanMessage(errorOf(outside), ["key 'web'", "is not under the entry's url"]);
    const redirected = await agentLoad(pod, 'redirected', {
      storage_uri: `${originUrl}/private/away/model.onnx`,
      storage_key: 'web',
    });
    assert.equal(redirected.status, 200, JSON.stringify(redirected.body));
    assert.deepEqual(seenElsewhere, [undefined], 'the redirect target saw no Authorization');
    const logs = pod.agent.output.join('\n');
    assert.ok(!logs.includes('tok-0123456789abcdef'), 'the token never reaches a log line');
  });
});
