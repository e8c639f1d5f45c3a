import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHealthServers,
  type HealthServers,
} from '../../../operator/src/observability/health.js';
import { OperatorMetrics } from '../../../operator/src/observability/metrics.js';

describe('operator /healthz, /readyz and /metrics on loopback', () => {
  let servers: HealthServers;
  let synced = false;
  const metrics = new OperatorMetrics(true);

  before(async () => {
    servers = await startHealthServers({
      bindAddress: '127.0.0.1',
      healthPort: 0,
      metricsPort: 0,
      registry: metrics.registry,
      healthz: { ping: () => true },
      readyz: { informers: () => synced },
    });
  });

  after(async () => {
    await servers.close();
  });

  const get = (port: number, path: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${port}${path}`);

  it('answers /healthz with ok', async () => {
    const res = await get(servers.healthPort, '/healthz');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok');
  });

  it('fails /readyz until the check passes, naming the failing check', async () => {
    const before = await get(servers.healthPort, '/readyz');
    assert.equal(before.status, 500);
    assert.equal(await before.text(), 'failed: informers');
    synced = true;
    assert.equal((await get(servers.healthPort, '/readyz')).status, 200);
  });

  it('serves controller-runtime metric names on the metrics port only', async () => {
    metrics.reconcileTotal.inc({ controller: 'inferenceservice', result: 'success' });
    metrics.queueDepth.set({ name: 'inferenceservice' }, 3);
    const text = await (await get(servers.metricsPort, '/metrics')).text();
    assert.match(
      text,
      /controller_runtime_reconcile_total\{controller="inferenceservice",result="success"\} 1/,
    );
    assert.match(text, /workqueue_depth\{name="inferenceservice"\} 3/);
    assert.match(text, /# TYPE controller_runtime_reconcile_time_seconds histogram/);
    assert.match(text, /process_cpu_seconds_total/);
    assert.equal((await get(servers.healthPort, '/metrics')).status, 404);
  });
});
