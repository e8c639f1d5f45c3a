import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { KubeClient, RequestOptions } from '../../../operator/src/kube/client.js';
import { EventRecorder } from '../../../operator/src/kube/events.js';

/** Records requests; answers every one with an empty object. */
function fakeClient(): KubeClient & { calls: { method: string; path: string; body: unknown }[] } {
  const calls: { method: string; path: string; body: unknown }[] = [];
  return {
    calls,
    request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
      calls.push({ method, path, body: options?.body });
      return Promise.resolve({} as T);
    },
    watch: () => Promise.resolve(),
  };
}

const isvc = {
  apiVersion: 'serving.tessera.io/v1alpha1',
  kind: 'InferenceService',
  name: 'demo',
  namespace: 'ns',
  uid: 'u1',
};
const failed = {
  type: 'Warning',
  reason: 'DeploymentApplyFailed',
  action: 'Apply',
  note: 'applying the Deployment failed: invalid',
} as const;

describe('EventRecorder', () => {
  it('creates an events.k8s.io/v1 Event with the reporting controller and instance', async () => {
    const client = fakeClient();
    const recorder = new EventRecorder(client, {
      controller: 'tessera-operator',
      instance: 'pod-a',
      logger: pino({ level: 'silent' }),
      now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    });
    await recorder.record(isvc, failed);
    recorder.close();
    assert.equal(client.calls.length, 1);
    const [call] = client.calls;
    assert.equal(call?.method, 'POST');
    assert.equal(call?.path, '/apis/events.k8s.io/v1/namespaces/ns/events');
    const body = call?.body as Record<string, unknown>;
    assert.equal(body['reportingController'], 'tessera-operator');
    assert.equal(body['reportingInstance'], 'pod-a');
    assert.equal(body['eventTime'], '2026-01-02T03:04:05.678000Z');
    assert.deepEqual(body['regarding'], isvc);
    assert.match((body['metadata'] as { name: string }).name, /^demo\.[0-9a-f]+$/);
  });

  it('folds repeats into one series written on flush, not one write per repeat', async () => {
    const client = fakeClient();
    let now = 1_000_000;
    const recorder = new EventRecorder(client, {
      controller: 'tessera-operator',
      instance: 'pod-a',
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    await recorder.record(isvc, failed);
    for (let i = 0; i < 5; i++) {
      now += 1000;
      await recorder.record(isvc, failed);
    }
    assert.deepEqual(
      client.calls.map((c) => c.method),
      ['POST'],
    );
    await recorder.flush();
    await recorder.flush(); // nothing changed since: no second write
    recorder.close();
    assert.deepEqual(
      client.calls.map((c) => c.method),
      ['POST', 'PATCH'],
    );
    assert.deepEqual(client.calls[1]?.body, {
      series: { count: 6, lastObservedTime: new Date(now).toISOString().replace('Z', '000Z') },
    });
  });

  it('creates a new Event for a different note, or after the series window', async () => {
    const client = fakeClient();
    let now = 0;
    const recorder = new EventRecorder(client, {
      controller: 'tessera-operator',
      instance: 'pod-a',
      logger: pino({ level: 'silent' }),
      seriesWindowMs: 10_000,
      now: () => now,
    });
    await recorder.record(isvc, failed);
    await recorder.record(isvc, { ...failed, note: 'another message' });
    now = 20_000;
    await recorder.record(isvc, failed);
    recorder.close();
    assert.deepEqual(
      client.calls.map((c) => c.method),
      ['POST', 'POST', 'POST'],
    );
  });
});
