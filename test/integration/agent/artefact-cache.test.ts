// The agent's disk LRU for artefacts no model uses (`cache_bytes`), through the real agent and
// server: a storage peer that counts downloads (a loopback HTTP file server) shows whether a
// reload pulled again; the volume's artefacts folder shows what stayed on disk. The two versioned
// fixtures are 148 bytes each, so a 200-byte budget holds one of them and not both.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/server-process.js';
import { postJson } from '../server/lifecycle-helpers.js';
import { agentLoad, agentMetric, inferVersioned, startPod, type Pod } from './agent-harness.js';

/** A loopback file server that counts the GETs of each path. */
async function countingServer(files: ReadonlyMap<string, Buffer>) {
  const gets = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    gets.set(path, (gets.get(path) ?? 0) + 1);
    const body = files.get(path);
    if (body === undefined) response.writeHead(404).end();
    else response.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, server, gets: (path: string) => gets.get(path) ?? 0 };
}

/** The artefact folder name of a storage URI (docs/agent.md: sha256 of the URI, 32 hex). */
const artefactKey = (uri: string): string =>
  createHash('sha256').update(uri).digest('hex').slice(0, 32);

void describe('agent: the disk LRU of unused artefacts (cache_bytes)', () => {
  let pod: Pod;
  let files: Awaited<ReturnType<typeof countingServer>>;
  const v1 = () => `${files.url}/v1/model.onnx`;
  const v2 = () => `${files.url}/v2/model.onnx`;
  const artefacts = () => readdir(join(pod.modelDir, '.tessera-agent/artefacts'));

  async function load(model: string, uri: string): Promise<void> {
    const result = await agentLoad(pod, model, { storage_uri: uri });
    assert.equal(result.status, 200, JSON.stringify(result.body));
  }
  async function unload(model: string): Promise<void> {
    const result = await postJson(`${pod.agent.url}/v2/repository/models/${model}/unload`, {});
    assert.equal(result.status, 200, JSON.stringify(result.body));
  }

  before(async () => {
    const fixture = (version: number) =>
      readFile(join(REPO_ROOT, `test/fixtures/models/versioned/${version}/model.onnx`));
    files = await countingServer(
      new Map([
        ['/v1/model.onnx', await fixture(1)],
        ['/v2/model.onnx', await fixture(2)],
      ]),
    );
    pod = await startPod();
  });

  after(async () => {
    await pod.stop();
    await new Promise((resolve) => files.server.close(resolve));
  });

  it('keeps an unloaded artefact within budget, so a reload needs no download', async () => {
    // A restart starts each case from a volume with no unused artefacts (init discards them).
    await pod.restartAgent({ TESSERA_AGENT_CACHE_BYTES: '10000' });
    const before = files.gets('/v1/model.onnx');
    await load('a', v1());
    await unload('a');
    assert.deepEqual(await artefacts(), [artefactKey(v1())]);
    const cached = await agentMetric(pod, 'tessera_agent_pulls_total', { outcome: 'cached' });
    await load('a', v1());
    assert.equal(files.gets('/v1/model.onnx'), before + 1, 'the reload downloaded nothing');
    assert.equal(
      await agentMetric(pod, 'tessera_agent_pulls_total', { outcome: 'cached' }),
      cached + 1,
    );
    assert.deepEqual(await inferVersioned(pod, 'a'), [2, 3]);
    await unload('a');
  });

  it('evicts the least recently released artefact from disk past the budget', async () => {
    await pod.restartAgent({ TESSERA_AGENT_CACHE_BYTES: '200' });
    const before = { v1: files.gets('/v1/model.onnx'), v2: files.gets('/v2/model.onnx') };
    await load('a', v1());
    await load('b', v2());
    await unload('a');
    assert.deepEqual(await artefacts(), [artefactKey(v1()), artefactKey(v2())].sort());
    // Releasing v2 as well would hold 296 bytes: v1, released first, goes before unload returns.
    await unload('b');
    assert.deepEqual(await artefacts(), [artefactKey(v2())]);
    await load('b', v2());
    assert.equal(files.gets('/v2/model.onnx'), before.v2 + 1, 'v2 came from the cache');
    await load('a', v1());
    assert.equal(files.gets('/v1/model.onnx'), before.v1 + 2, 'v1 was evicted and pulled again');
    assert.deepEqual(await inferVersioned(pod, 'a'), [2, 3]);
    assert.deepEqual(await inferVersioned(pod, 'b'), [3, 4]);
    await unload('a');
    await unload('b');
  });

  it('counts an artefact reused from the cache at its real size', async () => {
    await pod.restartAgent({ TESSERA_AGENT_CACHE_BYTES: '200' });
    await load('a', v1());
    await unload('a');
    await load('a', v1()); // from the cache
    await unload('a'); // released again: still 148 bytes, not 0
    await load('b', v2());
    await unload('b');
    assert.deepEqual(await artefacts(), [artefactKey(v2())], 'the budget holds one artefact');
  });

  it('deletes an unloaded artefact at once with cache_bytes 0', async () => {
    await pod.restartAgent({ TESSERA_AGENT_CACHE_BYTES: '0' });
    const before = files.gets('/v1/model.onnx');
    await load('a', v1());
    assert.deepEqual(await artefacts(), [artefactKey(v1())]);
    await unload('a');
    assert.deepEqual(await artefacts(), []);
    await load('a', v1());
    assert.equal(files.gets('/v1/model.onnx'), before + 2, 'the reload downloaded again');
    await unload('a');
  });
});
