import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { displayStorageUri, storageUriFingerprint, type AgentIndexEntry } from '@tessera/contract';
import {
  planReplica,
  type ReplicaFacts,
} from '../../../operator/src/reconcilers/model-driver/replica-plan.js';
import { podView } from '../../../operator/src/reconcilers/model-driver/pod-view.js';

const URI = 's3://models/iris/';
const desired = { name: 'iris', storageUri: URI, format: 'onnx' };

function pod(agentReady = true, phase = 'Running', ready = true) {
  return podView({
    metadata: { name: 'iris-predictor-x', uid: 'u1' },
    status: {
      phase,
      podIP: '10.0.0.7',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        { name: 'kserve-container', ready: false },
        { name: 'agent', ready: agentReady },
      ],
    },
  });
}

function facts(over: Partial<ReplicaFacts> = {}): ReplicaFacts {
  return {
    pod: pod(),
    index: [],
    inFlight: undefined,
    failure: undefined,
    now: 1_000,
    exclusive: true,
    ...over,
  };
}

function entry(over: Partial<AgentIndexEntry>): AgentIndexEntry {
  return { name: 'iris', state: 'READY', reason: '', ...over };
}

describe('podView', () => {
  it('addresses the agent on the pod IP and the contract port', () => {
    assert.equal(pod().agentUrl, 'http://10.0.0.7:8090');
    assert.equal(pod().agentReady, true);
  });

  it('says why a pod cannot be asked yet', () => {
    assert.equal(pod(true, 'Pending').waitingFor, 'the pod is Pending');
    assert.equal(pod(false).waitingFor, 'waiting for the agent to become ready');
  });
});

describe('planReplica', () => {
  it('loads the model on a replica whose index is empty (a new or restarted pod)', () => {
    const plan = planReplica(desired, facts());
    assert.equal(plan.observation.state, 'Loading');
    assert.deepEqual(plan.actions, [{ kind: 'load' }]);
  });

  it('does nothing when the server serves the desired storage URI (idempotent)', () => {
    const plan = planReplica(desired, facts({ index: [entry({ storage_uri: URI })] }));
    assert.deepEqual(plan.observation, { pod: 'iris-predictor-x', serving: URI, state: 'Loaded' });
    assert.deepEqual(plan.actions, []);
  });

  it('tells URIs apart by the fingerprint when the agent shows them without their query', () => {
    const signed = 'https://store.example/iris/model.onnx?versionId=2&X-Amz-Signature=abc';
    const shown = displayStorageUri(signed);
    const want = { ...desired, storageUri: signed };
    const served = entry({
      storage_uri: shown,
      storage_uri_fingerprint: storageUriFingerprint(signed),
    });
    const plan = planReplica(want, facts({ index: [served] }));
    assert.deepEqual(plan.observation, {
      pod: 'iris-predictor-x',
      serving: signed,
      state: 'Loaded',
    });
    assert.deepEqual(plan.actions, []);
    // Another version of the same path: same display form, another fingerprint.
    const older = entry({
      storage_uri: shown,
      storage_uri_fingerprint: storageUriFingerprint(signed.replace('versionId=2', 'versionId=1')),
    });
    const update = planReplica(want, facts({ index: [older] }));
    assert.equal(update.observation.state, 'Loading');
    assert.deepEqual(update.actions, [{ kind: 'load' }]);
    // An agent that sends no fingerprint is compared by the display form.
    const legacy = planReplica(want, facts({ index: [entry({ storage_uri: shown })] }));
    assert.equal(legacy.observation.state, 'Loaded');
  });

  it('counts a loaded copy only once the pod is Ready (its Service routes to it)', () => {
    const plan = planReplica(
      desired,
      facts({ pod: pod(true, 'Running', false), index: [entry({ storage_uri: URI })] }),
    );
    assert.equal(plan.observation.state, 'Loading');
    assert.equal(plan.observation.reason, 'loaded; waiting for the readiness probe');
    assert.deepEqual(plan.actions, []);
  });

  it('waits for a pod whose agent is not ready, without calling it', () => {
    const plan = planReplica(desired, facts({ pod: pod(false) }));
    assert.equal(plan.observation.state, 'Pending');
    assert.deepEqual(plan.actions, []);
  });

  it('reports an unreachable agent as pending with the reason', () => {
    const plan = planReplica(desired, facts({ index: { error: 'unreachable (ECONNREFUSED)' } }));
    assert.equal(plan.observation.reason, 'the agent did not answer: unreachable (ECONNREFUSED)');
  });

  it('does not start a second load while one is in flight or the agent is pulling', () => {
    assert.deepEqual(planReplica(desired, facts({ inFlight: URI })).actions, []);
    const pulling = entry({
      state: 'UNKNOWN',
      pull: { phase: 'Pulling', storage_uri: URI, bytes: 1024 },
    });
    const plan = planReplica(desired, facts({ index: [pulling] }));
    assert.equal(plan.observation.state, 'Loading');
    assert.match(plan.observation.reason ?? '', /1024 bytes so far/);
    assert.deepEqual(plan.actions, []);
  });

  it('loads a new storage URI while the old one keeps serving', () => {
    const plan = planReplica(
      desired,
      facts({ index: [entry({ storage_uri: 's3://models/iris-old/' })] }),
    );
    assert.equal(plan.observation.serving, 's3://models/iris-old/');
    assert.equal(plan.observation.state, 'Loading');
    assert.deepEqual(plan.actions, [{ kind: 'load' }]);
  });

  it('records a failure the agent reports, then backs off until retryAt', () => {
    const failed = entry({
      state: 'UNAVAILABLE',
      pull: { phase: 'Failed', storage_uri: URI, bytes: 0, message: 'access denied' },
    });
    const first = planReplica(desired, facts({ index: [failed] }));
    assert.equal(first.observation.state, 'FailedToLoad');
    assert.deepEqual(first.actions, [{ kind: 'noteFailure', message: 'access denied' }]);
    const failure = {
      storageUri: URI,
      message: 'access denied',
      time: '2026-12-01T00:00:00Z',
      attempts: 1,
      retryAt: 5_000,
    };
    const waiting = planReplica(desired, facts({ index: [failed], failure, now: 4_999 }));
    assert.equal(waiting.observation.state, 'FailedToLoad');
    assert.deepEqual(waiting.actions, []);
    const retry = planReplica(desired, facts({ index: [failed], failure, now: 5_000 }));
    assert.deepEqual(retry.actions, [{ kind: 'load' }]);
    assert.match(retry.observation.reason ?? '', /attempt 2/);
  });

  it('unloads models the agent pulled that this replica should not serve', () => {
    const plan = planReplica(
      desired,
      facts({
        index: [entry({ storage_uri: URI }), entry({ name: 'old-name', storage_uri: 's3://x/' })],
      }),
    );
    assert.deepEqual(plan.actions, [{ kind: 'unload', model: 'old-name' }]);
  });
});

describe('planReplica and the memory the server reports', () => {
  it('records the sum over the READY versions of the desired model, rounded up to MiB', () => {
    const Mi = 2 ** 20;
    const plan = planReplica(
      desired,
      facts({
        index: [
          entry({ storage_uri: URI, version: '1', memory_bytes: 3 * Mi }),
          entry({ storage_uri: URI, version: '2', memory_bytes: Mi + 1 }),
          entry({ name: 'other', storage_uri: 's3://x/', memory_bytes: 100 * Mi }),
        ],
        exclusive: false,
      }),
    );
    assert.equal(plan.observation.state, 'Loaded');
    assert.equal(plan.observation.memoryBytes, 5 * Mi);
  });

  it('records nothing while the desired model is not held, or when the runtime reports nothing', () => {
    const loading = planReplica(
      desired,
      facts({ index: [entry({ state: 'LOADING', storage_uri: URI, memory_bytes: 10 })] }),
    );
    assert.equal(loading.observation.memoryBytes, undefined);
    const silent = planReplica(desired, facts({ index: [entry({ storage_uri: URI })] }));
    assert.equal(silent.observation.memoryBytes, undefined);
    assert.equal('memoryBytes' in silent.observation, false);
  });
});
