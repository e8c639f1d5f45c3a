// The memory a loaded model holds, as the server reports it in its repository index
// (`memory_bytes`) and its metrics (`tessera_model_memory_bytes`), and as the agent relays it:
// real model files (an ONNX model written by onnx.helper, an XGBoost and a LightGBM model
// trained by the libraries, the bundled iris ONNX model), pulled by a real agent from a local
// root and loaded by a real server. The expected figures are the test's own arithmetic: ONNX, the
// file's bytes per session; trees, the bytes of the typed arrays their nodes compile into,
// counted from the files the libraries wrote.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RepositoryClient, type RepositoryIndexEntry } from '@tessera/contract';
import { agentLoad, startPod, type Pod } from '../agent/agent-harness.js';
import { makeMemoryModels, type MemoryModelCounts } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';

/** Bytes per internal node (5 Int32 + 1 Float64 + 1 Uint8 arrays), leaf (Float64), tree. */
const NODE_BYTES = 5 * 4 + 8 + 1;
const LEAF_BYTES = 8;
const TREE_BYTES = 4 + 4 + 8;

void describe('memory reported for loaded models', () => {
  let dir: string;
  let pod: Pod;
  let counts: MemoryModelCounts;
  const expected = new Map<string, number>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-memory-'));
    counts = await makeMemoryModels(dir, { weightsMib: 1 });
    pod = await startPod();
    const iris = join(REPO_ROOT, 'examples/models/iris/model.onnx');
    await cp(iris, join(pod.localRoot, 'iris/model.onnx'));
    expected.set('iris', (await stat(iris)).size);
    // Two worker threads: two sessions, each with the weights.
    await cp(join(dir, 'wide'), join(pod.localRoot, 'wide'), { recursive: true });
    await writeFile(
      join(pod.localRoot, 'wide/model-settings.json'),
      JSON.stringify({
        name: 'wide',
        implementation: 'onnx',
        parallel_workers: 2,
        parameters: { uri: './model.onnx' },
      }),
    );
    expected.set('wide', 2 * (await stat(join(dir, 'wide/model.onnx'))).size);
    for (const name of ['xgboost', 'lightgbm'] as const) {
      await cp(join(dir, name), join(pod.localRoot, name), { recursive: true });
    }
    const x = counts.xgboost;
    expected.set(
      'xgboost',
      x.internal * NODE_BYTES + x.leaves * LEAF_BYTES + x.trees * TREE_BYTES + 4 * x.groups,
    );
    const l = counts.lightgbm;
    // No linear leaves: no per-tree linear flags either.
    expected.set(
      'lightgbm',
      l.internal * NODE_BYTES + l.leaves * LEAF_BYTES + l.trees * TREE_BYTES,
    );
    for (const [name, format] of [
      ['iris', 'onnx'],
      ['wide', 'onnx'],
      ['xgboost', 'xgboost'],
      ['lightgbm', 'lightgbm'],
    ] as const) {
      const loaded = await agentLoad(pod, name, {
        storage_uri: join(pod.localRoot, name),
        model_format: format,
      });
      assert.equal(loaded.status, 200, `${name}: ${JSON.stringify(loaded.body)}`);
    }
  });

  after(async () => {
    await pod.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const byName = (entries: readonly RepositoryIndexEntry[]): Map<string, number | undefined> =>
    new Map(entries.map((e) => [e.name, e.memory_bytes]));

  void it('reports each runtime’s estimate in the server’s index, parsed by the contract', async () => {
    assert.ok(pod.server.adminUrl);
    const index = await new RepositoryClient(pod.server.adminUrl).index();
    assert.deepEqual(byName(index), expected);
    // The weights dominate the ONNX figure: 1 MiB of them, in each of the two sessions.
    assert.ok((expected.get('wide') ?? 0) > 2 * 2 ** 20);
  });

  void it('is relayed unchanged by the agent’s index', async () => {
    const index = await new RepositoryClient(pod.agent.url).agentIndex();
    assert.deepEqual(byName(index), expected);
  });

  void it('is a gauge per model and version, gone once the model is unloaded', async () => {
    const scrape = await (await fetch(`${pod.server.metricsUrl}/metrics`)).text();
    for (const [name, bytes] of expected) {
      assert.match(
        scrape,
        new RegExp(`tessera_model_memory_bytes\\{model="${name}",version=""\\} ${bytes}\\b`),
      );
    }
    await new RepositoryClient(pod.agent.url).unload('wide');
    const after = await (await fetch(`${pod.server.metricsUrl}/metrics`)).text();
    assert.doesNotMatch(after, /tessera_model_memory_bytes\{model="wide"/);
    const index = await new RepositoryClient(pod.agent.url).agentIndex();
    assert.equal(index.find((e) => e.name === 'wide')?.memory_bytes, undefined);
  });
});
