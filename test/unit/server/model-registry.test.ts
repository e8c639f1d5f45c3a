import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ModelRegistry } from '../../../server/src/core/model-registry.js';
import { ModelRepository } from '../../../server/src/core/model-repository.js';
import type { ModelInstance, ModelRuntime } from '../../../server/src/core/model-runtime.js';
import { withDefaults, type ModelSettings } from '../../../server/src/core/model-settings.js';
import { silentLogger, silentObserver } from '../../../server/src/core/ports.js';
import { ServerError } from '../../../server/src/errors.js';
import { ServerMetrics } from '../../../server/src/observability/metrics.js';

/** A runtime whose loads the test controls: each load waits for `gate` and fails if `failNext`. */
class FakeRuntime implements ModelRuntime {
  readonly name = 'fake';
  readonly aliases = ['tests.Fake'];
  loads = 0;
  unloads = 0;
  failNext: string | undefined;
  gate: Promise<void> = Promise.resolve();

  async load(_settings: ModelSettings): Promise<ModelInstance> {
    this.loads++;
    const generation = this.loads;
    await this.gate;
    if (this.failNext !== undefined) {
      const message = this.failNext;
      this.failNext = undefined;
      throw new Error(message);
    }
    return {
      metadata: { platform: `fake-${generation}`, inputs: [], outputs: [] },
      infer: () => Promise.resolve({ outputs: [] }),
      unload: () => {
        this.unloads++;
        return Promise.resolve();
      },
    } satisfies ModelInstance;
  }
}

async function loadedSettings(registry: ModelRegistry, name: string): Promise<ModelSettings> {
  await registry.load(name);
  const model = registry.acquire(name);
  model.release();
  return model.settings;
}

async function loadedMaxBatch(registry: ModelRegistry, name: string): Promise<number> {
  const model = registry.acquire(name);
  model.release();
  return Promise.resolve(model.settings.maxBatchSize);
}

async function writeModel(root: string, folder: string, settings: object): Promise<void> {
  await mkdir(join(root, folder), { recursive: true });
  await writeFile(join(root, folder, 'model-settings.json'), JSON.stringify(settings));
}

describe('ModelRegistry', () => {
  let root: string;
  let runtime: FakeRuntime;
  let registry: ModelRegistry;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-registry-'));
    runtime = new FakeRuntime();
    registry = new ModelRegistry({
      repository: new ModelRepository(root),
      runtimes: [runtime],
      observer: silentObserver,
      logger: silentLogger,
      drainTimeoutMs: 2000,
    });
    await writeModel(root, 'alpha', { name: 'alpha', implementation: 'fake' });
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('loads a model from a load override that is not on disk, and removes its folder on unload', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'tessera-override-'));
    const settings = withDefaults({
      name: 'fresh',
      version: '1',
      implementation: 'fake',
      uri: join(folder, '1'),
      folder,
      source: 'file:1',
    });
    await registry.load('fresh', { replace: [settings], folders: [folder] });
    assert.equal(registry.isReady('fresh', '1'), true);
    assert.equal(existsSync(folder), true, 'the serving version keeps its folder');
    await registry.unload('fresh');
    assert.equal(existsSync(folder), false, 'the retired version removed its folder');
  });

  it('removes the folders of a load override whose load failed', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'tessera-override-'));
    const settings = { ...(await loadedSettings(registry, 'alpha')), folder, name: 'fresh' };
    runtime.failNext = 'boom';
    await assert.rejects(
      registry.load('fresh', { replace: [settings], folders: [folder] }),
      /boom/,
    );
    assert.equal(existsSync(folder), false);
  });

  it('applies a load override transform to the settings on disk for that load only', async () => {
    await registry.load('alpha', { transform: (s) => ({ ...s, maxBatchSize: 8 }) });
    assert.equal(await loadedMaxBatch(registry, 'alpha'), 8);
    await registry.load('alpha');
    assert.equal(await loadedMaxBatch(registry, 'alpha'), 0);
  });

  it('discovers models as UNAVAILABLE and loads them to READY', async () => {
    await registry.discover();
    assert.deepEqual(await registry.index(false), [
      { name: 'alpha', state: 'UNAVAILABLE', reason: '' },
    ]);
    await registry.load('alpha');
    assert.deepEqual(await registry.index(false), [{ name: 'alpha', state: 'READY', reason: '' }]);
    assert.equal(registry.isReady('alpha'), true);
  });

  it('answers 404 for unknown models and 503 for known but unloaded ones', async () => {
    await registry.discover();
    assert.throws(
      () => registry.acquire('nope'),
      (e: unknown) => e instanceof ServerError && e.code === 'SRV_ERR_MODEL_NOT_FOUND',
    );
    assert.throws(
      () => registry.acquire('alpha'),
      (e: unknown) => e instanceof ServerError && e.code === 'SRV_ERR_MODEL_NOT_READY',
    );
    await assert.rejects(
      registry.load('nope'),
      (e: unknown) => e instanceof ServerError && e.code === 'SRV_ERR_MODEL_NOT_FOUND',
    );
  });

  it('rejects path-traversal names before touching the repository', async () => {
    await assert.rejects(
      registry.load('../etc'),
      (e: unknown) => e instanceof ServerError && e.code === 'SRV_ERR_INVALID_INPUT',
    );
    await assert.rejects(registry.unload('a/b'), /invalid model name/);
  });

  it('reloads with zero downtime: the old instance serves until the new one is ready', async () => {
    await registry.load('alpha');
    const before = registry.acquire('alpha');
    before.release();
    let open!: () => void;
    runtime.gate = new Promise((resolveGate) => (open = resolveGate));
    const reload = registry.load('alpha');
    await new Promise((r) => setTimeout(r, 20));
    const during = registry.acquire('alpha');
    assert.equal(during.instance, before.instance, 'old instance keeps serving while loading');
    during.release();
    const [reloading] = await registry.index(false);
    assert.equal(reloading?.state, 'READY', 'a serving model stays READY while it reloads');
    assert.match(reloading?.reason ?? '', /reload/);
    open();
    await reload;
    const after = registry.acquire('alpha');
    assert.notEqual(after.instance, before.instance);
    after.release();
    assert.equal(runtime.unloads, 1, 'the old instance was unloaded after the swap');
  });

  it('keeps the old instance serving when a reload fails, and reports why', async () => {
    await registry.load('alpha');
    runtime.failNext = 'corrupt weights';
    await assert.rejects(
      registry.load('alpha'),
      (e: unknown) =>
        e instanceof ServerError &&
        e.code === 'SRV_ERR_MODEL_LOAD_FAILED' &&
        /corrupt weights/.test(e.message),
    );
    assert.equal(registry.isReady('alpha'), true);
    const [entry] = await registry.index(false);
    assert.equal(entry?.state, 'READY');
    assert.match(entry?.reason ?? '', /reload failed.*corrupt weights/);
  });

  it('leaves a first load that fails UNAVAILABLE with the reason', async () => {
    runtime.failNext = 'bad file';
    await assert.rejects(registry.load('alpha'));
    const [entry] = await registry.index(false);
    assert.equal(entry?.state, 'UNAVAILABLE');
    assert.match(entry?.reason ?? '', /bad file/);
  });

  it('waits for in-flight requests before unloading', async () => {
    await registry.load('alpha');
    const lease = registry.acquire('alpha');
    let unloaded = false;
    const unload = registry.unload('alpha').then(() => (unloaded = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(unloaded, false, 'unload waits while a request is in flight');
    assert.equal(runtime.unloads, 0);
    assert.throws(
      () => registry.acquire('alpha'),
      /has no available versions: it is unloading/,
      'new requests are refused while unloading',
    );
    lease.release();
    await unload;
    assert.equal(runtime.unloads, 1);
    assert.equal((await registry.index(false))[0]?.state, 'UNAVAILABLE');
  });

  it('serializes concurrent load and unload so the last call decides the state', async () => {
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++)
      ops.push(
        i % 2 === 0 ? registry.load('alpha') : registry.unload('alpha').catch(() => undefined),
      );
    ops.push(registry.load('alpha'));
    await Promise.all(ops);
    const [entry] = await registry.index(false);
    assert.equal(entry?.state, 'READY');
    assert.equal(runtime.loads - runtime.unloads, 1, 'exactly one instance is alive');
  });

  it('serves every version and picks the highest by default', async () => {
    await writeModel(root, 'multi/1', {
      name: 'multi',
      implementation: 'fake',
      parameters: { version: '1' },
    });
    await writeModel(root, 'multi/10', {
      name: 'multi',
      implementation: 'fake',
      parameters: { version: '10' },
    });
    await writeModel(root, 'multi/9', {
      name: 'multi',
      implementation: 'fake',
      parameters: { version: '9' },
    });
    await registry.load('multi');
    assert.deepEqual(registry.servingVersions('multi'), ['1', '9', '10']);
    const model = registry.acquire('multi');
    assert.equal(model.version, '10');
    model.release();
    assert.throws(() => registry.acquire('multi', '11'), /'multi' version 11 is not found/);
  });

  it('reports an invalid model-settings.json under the model name with file and field', async () => {
    await writeModel(root, 'beta', { name: 'beta', implementation: 7 });
    await registry.discover();
    const beta = (await registry.index(false)).find((e) => e.name === 'beta');
    assert.equal(beta?.state, 'UNAVAILABLE');
    assert.match(beta?.reason ?? '', /beta\/model-settings\.json: implementation:/);
    await assert.rejects(registry.load('beta'), /model-settings\.json: implementation/);
  });

  it('names unknown runtimes and the ones available', async () => {
    await writeModel(root, 'gamma', { name: 'gamma', implementation: 'sklearn' });
    await assert.rejects(registry.load('gamma'), /unknown runtime 'sklearn' \(available: fake\)/);
  });

  it('keeps relative artefact URIs inside the repository', async () => {
    await writeModel(root, 'delta', {
      name: 'delta',
      implementation: 'fake',
      parameters: { uri: '../../etc/passwd' },
    });
    await assert.rejects(
      registry.load('delta'),
      /parameters\.uri: must stay inside the model repository/,
    );
  });
});

describe('ModelRegistry memory reports', () => {
  it('sends a model that names its own Python environment to the python runtime', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-registry-env-'));
    try {
      const runtimeOf = (name: string, aliases: string[] = []): ModelRuntime => ({
        name,
        aliases,
        load: () =>
          Promise.resolve({
            metadata: { platform: name, inputs: [], outputs: [] },
            infer: () => Promise.resolve({ outputs: [] }),
            unload: () => Promise.resolve(),
          }),
      });
      const registry = new ModelRegistry({
        repository: new ModelRepository(root),
        runtimes: [runtimeOf('native', ['mlserver_sklearn.SKLearnModel']), runtimeOf('python')],
        observer: silentObserver,
        logger: silentLogger,
        drainTimeoutMs: 0,
      });
      const cases: [string, Record<string, unknown>, string][] = [
        ['plain', {}, 'native'],
        ['tarball', { environment_tarball: './environment.tar.gz' }, 'python'],
        ['venv', { environment_path: './venv' }, 'python'],
        ['kept-native', { environment_path: './venv', serve_with: 'native' }, 'native'],
      ];
      for (const [name, parameters] of cases) {
        await writeModel(root, name, {
          name,
          implementation: 'mlserver_sklearn.SKLearnModel',
          parameters,
        });
      }
      for (const [name, , platform] of cases) {
        await registry.load(name);
        const model = registry.acquire(name);
        model.release();
        assert.equal(model.instance.metadata.platform, platform, name);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('puts each version’s memory estimate in the index and the gauge, and drops it on unload', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-registry-mem-'));
    try {
      const sizes: Record<string, number> = { '1': 1000, '2': 2500 };
      const runtime: ModelRuntime = {
        name: 'sized',
        aliases: [],
        load: (settings) =>
          Promise.resolve({
            metadata: { platform: 'sized', inputs: [], outputs: [] },
            memoryBytes: sizes[settings.version ?? ''],
            infer: () => Promise.resolve({ outputs: [] }),
            unload: () => Promise.resolve(),
          }),
      };
      const metrics = new ServerMetrics({ restPrefix: 'rest_server' });
      const registry = new ModelRegistry({
        repository: new ModelRepository(root),
        runtimes: [runtime],
        observer: metrics,
        logger: silentLogger,
        drainTimeoutMs: 0,
      });
      for (const version of ['1', '2', '3']) {
        await writeModel(root, `m/${version}`, {
          name: 'm',
          implementation: 'sized',
          parameters: { version },
        });
      }
      await registry.load('m');
      assert.deepEqual(await registry.index(true), [
        { name: 'm', version: '1', state: 'READY', reason: '', memory_bytes: 1000 },
        { name: 'm', version: '2', state: 'READY', reason: '', memory_bytes: 2500 },
        // A runtime that cannot tell reports nothing rather than a guess.
        { name: 'm', version: '3', state: 'READY', reason: '' },
      ]);
      const scrape = await metrics.registry.metrics();
      assert.match(scrape, /tessera_model_memory_bytes\{model="m",version="1"\} 1000/);
      assert.match(scrape, /tessera_model_memory_bytes\{model="m",version="2"\} 2500/);
      await registry.unload('m');
      assert.doesNotMatch(await metrics.registry.metrics(), /tessera_model_memory_bytes\{/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
