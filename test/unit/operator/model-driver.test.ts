// The model driver against in-memory caches and a scripted agent (unit tier: no sockets).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  RepositoryApiError,
  type AgentIndexEntry,
  type AgentLoadParameters,
  type RepositoryClient,
} from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { ModelDriverReconciler } from '../../../operator/src/reconcilers/model-driver/reconciler.js';
import { ObservationStore } from '../../../operator/src/reconcilers/model-driver/replica-observation.js';
import { isvc } from './fixtures.js';

const log = pino({ level: 'silent' });
const KEY = 'models/iris';
const URI = 's3://models/iris/';

function cache(objects: KubeObject[]) {
  return {
    get: (key: string) =>
      objects.find((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}` === key),
    list: () => objects,
    select: (namespace: string, selector: Record<string, string> = {}) =>
      objects.filter(
        (o) =>
          (o.metadata?.namespace ?? '') === namespace &&
          Object.entries(selector).every(([k, v]) => o.metadata?.labels?.[k] === v),
      ),
  };
}

function pod(name: string, ip: string, agentReady = true): KubeObject {
  return {
    metadata: {
      name,
      namespace: 'models',
      uid: `uid-${name}`,
      labels: {
        'serving.tessera.io/inferenceservice': 'iris',
        'app.kubernetes.io/component': 'predictor',
      },
    },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'agent', ready: agentReady }],
    },
  };
}

/** A scripted agent per URL: its index, and what load does. */
class FakeAgents {
  readonly index = new Map<string, AgentIndexEntry[]>();
  readonly loads: { url: string; model: string; parameters: AgentLoadParameters }[] = [];
  loadError: Error | undefined;
  private pending: (() => void)[] = [];

  client(url: string): RepositoryClient {
    return {
      agentIndex: () => Promise.resolve(this.index.get(url) ?? []),
      loadFromStorage: (model: string, parameters: AgentLoadParameters) => {
        this.loads.push({ url, model, parameters });
        return new Promise<void>((resolve, reject) => {
          this.pending.push(() => {
            if (this.loadError !== undefined) {
              reject(this.loadError);
              return;
            }
            this.index.set(url, [
              { name: model, state: 'READY', reason: '', storage_uri: parameters.storage_uri },
            ]);
            resolve();
          });
        });
      },
      unload: () => Promise.resolve(),
    } as unknown as RepositoryClient;
  }

  /** Finishes every load in flight. */
  finish(): void {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) p();
  }
}

function setup(pods: KubeObject[], now = () => 0, isvcs: KubeObject[] = [isvc()]) {
  const agents = new FakeAgents();
  const store = new ObservationStore();
  const requeued: string[] = [];
  const driver = new ModelDriverReconciler({
    caches: { inferenceServices: cache(isvcs), pods: cache(pods) },
    store,
    requeue: (key) => requeued.push(key),
    timings: {
      indexTimeoutMs: 1000,
      loadTimeoutMs: 1000,
      recheckMs: 30_000,
      pollMs: 1000,
      backoff: { baseMs: 5000, maxMs: 60_000 },
    },
    now,
    agentClient: (url) => agents.client(url),
  });
  return { agents, store, requeued, driver };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('ModelDriverReconciler', () => {
  it('loads the model once on every ready replica and reports it Loaded after the agent says so', async () => {
    const { agents, store, requeued, driver } = setup([
      pod('iris-a', '10.0.0.1'),
      pod('iris-b', '10.0.0.2'),
      pod('iris-c', '10.0.0.3', false),
    ]);
    await driver.reconcile(KEY, log);
    await driver.reconcile(KEY, log); // a second pass while loads are in flight adds none
    assert.deepEqual(
      agents.loads.map((l) => [l.url, l.model, l.parameters.storage_uri]),
      [
        ['http://10.0.0.1:8090', 'iris', URI],
        ['http://10.0.0.2:8090', 'iris', URI],
      ],
    );
    assert.deepEqual(
      store.get(KEY)?.map((o) => [o.pod, o.state]),
      [
        ['iris-a', 'Loading'],
        ['iris-b', 'Loading'],
        ['iris-c', 'Pending'],
      ],
    );
    agents.finish();
    await settled();
    assert.ok(requeued.includes(KEY), 'a settled load re-queues the InferenceService');
    await driver.reconcile(KEY, log);
    assert.deepEqual(
      store.get(KEY)?.map((o) => o.state),
      ['Loaded', 'Loaded', 'Pending'],
    );
    await driver.reconcile(KEY, log);
    assert.equal(agents.loads.length, 2, 'a load of what is loaded is never sent');
  });

  it('drives a KServe legacy predictor.<framework> spec, and none that asks for what Tessera cannot do', async () => {
    const legacy = (extra: Record<string, unknown>): KubeObject => {
      const base = isvc() as unknown as KubeObject;
      return { ...base, spec: { predictor: { onnx: { storageUri: URI } }, ...extra } };
    };
    const ported = setup([pod('iris-a', '10.0.0.1')], () => 0, [legacy({})]);
    await ported.driver.reconcile(KEY, log);
    assert.deepEqual(
      ported.agents.loads.map((l) => [l.model, l.parameters.storage_uri]),
      [['iris', URI]],
    );
    const refused = setup([pod('iris-a', '10.0.0.1')], () => 0, [
      legacy({ transformer: { containers: [] } }),
    ]);
    await refused.driver.reconcile(KEY, log);
    assert.deepEqual(refused.agents.loads, []);
  });

  it('reports a failed load with the agent message, backs off, then retries', async () => {
    let now = 0;
    const { agents, store, driver } = setup([pod('iris-a', '10.0.0.1')], () => now);
    agents.loadError = new RepositoryApiError(
      422,
      'object s3://models/iris/model.onnx does not exist',
    );
    await driver.reconcile(KEY, log);
    agents.finish();
    await settled();
    const result = await driver.reconcile(KEY, log);
    const [obs] = store.get(KEY) ?? [];
    assert.equal(obs?.state, 'FailedToLoad');
    assert.match(obs.reason ?? '', /does not exist/);
    assert.equal(agents.loads.length, 1);
    assert.deepEqual(result, { kind: 'requeueAfter', ms: 5000 });
    now = 5000;
    agents.loadError = undefined;
    await driver.reconcile(KEY, log);
    assert.equal(agents.loads.length, 2, 'retried once the backoff elapsed');
  });

  it('forgets an InferenceService that is gone', async () => {
    const { store, driver } = setup([pod('iris-a', '10.0.0.1')]);
    await driver.reconcile(KEY, log);
    assert.notEqual(store.get(KEY), undefined);
    await driver.reconcile('models/other', log);
    assert.equal(store.get('models/other'), undefined);
  });
});
