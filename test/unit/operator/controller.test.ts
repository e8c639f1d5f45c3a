import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Controller } from '../../../operator/src/controller/controller.js';
import type { ReconcileResult } from '../../../operator/src/controller/result.js';
import { createLogger } from '../../../operator/src/observability/logger.js';
import { OperatorMetrics } from '../../../operator/src/observability/metrics.js';

function captureLogger(): {
  lines: Record<string, unknown>[];
  logger: ReturnType<typeof createLogger>;
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

async function settle(ms = 50): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function total(metrics: OperatorMetrics, result: string): Promise<number> {
  const { values } = await metrics.reconcileTotal.get();
  return values.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
}

describe('Controller', () => {
  it('maps results: done forgets, retry backs off and runs again, terminal stops', async () => {
    const metrics = new OperatorMetrics();
    const { logger } = captureLogger();
    const calls = new Map<string, number>();
    const script: Record<string, ReconcileResult[]> = {
      'ns/ok': [{ kind: 'done' }],
      'ns/flaky': [
        { kind: 'retry', error: new Error('boom') },
        { kind: 'retry', error: new Error('boom') },
        { kind: 'done' },
      ],
      'ns/bad': [{ kind: 'terminal', error: new Error('invalid spec') }],
    };
    const controller = new Controller({
      name: 'test',
      workers: 2,
      logger,
      metrics,
      reconcile: (key) => {
        const n = calls.get(key) ?? 0;
        calls.set(key, n + 1);
        return Promise.resolve(script[key]?.[n] ?? { kind: 'done' });
      },
    });
    controller.start();
    for (const key of Object.keys(script)) controller.enqueue(key);
    await settle(200);
    await controller.stop();
    assert.deepEqual(Object.fromEntries(calls), { 'ns/ok': 1, 'ns/flaky': 3, 'ns/bad': 1 });
    assert.equal(controller.queue.limiter.retries('ns/flaky'), 0, 'success forgets the backoff');
    assert.equal(await total(metrics, 'success'), 2);
    assert.equal(await total(metrics, 'error'), 3);
    const terminal = await metrics.reconcileTerminalErrors.get();
    assert.equal(terminal.values[0]?.value, 1);
  });

  it('treats a thrown error as a retry', async () => {
    const metrics = new OperatorMetrics();
    let n = 0;
    const controller = new Controller({
      name: 'test',
      workers: 1,
      logger: captureLogger().logger,
      metrics,
      reconcile: () => {
        n++;
        if (n === 1) throw new Error('unexpected');
        return Promise.resolve({ kind: 'done' });
      },
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle(100);
    await controller.stop();
    assert.equal(n, 2);
  });

  it('logs with namespace, name and a reconcileID unique per reconcile', async () => {
    const { lines, logger } = captureLogger();
    const controller = new Controller({
      name: 'test',
      workers: 1,
      logger,
      metrics: new OperatorMetrics(),
      reconcile: (_key, log) => {
        log.info('Reconciled');
        return Promise.resolve({ kind: 'done' });
      },
    });
    controller.start();
    controller.enqueue('models/iris');
    await settle();
    controller.enqueue('models/iris');
    await settle();
    await controller.stop();
    const reconciled = lines.filter((l) => l['msg'] === 'Reconciled');
    assert.equal(reconciled.length, 2);
    for (const l of reconciled) {
      assert.equal(l['namespace'], 'models');
      assert.equal(l['name'], 'iris');
      assert.equal(l['controller'], 'test');
      assert.match(String(l['reconcileID']), /^[0-9a-f-]{36}$/);
    }
    assert.notEqual(reconciled[0]?.['reconcileID'], reconciled[1]?.['reconcileID']);
  });

  it('waits for an in-flight reconcile on stop', async () => {
    let finished = false;
    const controller = new Controller({
      name: 'test',
      workers: 1,
      logger: captureLogger().logger,
      metrics: new OperatorMetrics(),
      reconcile: async () => {
        await settle(80);
        finished = true;
        return { kind: 'done' };
      },
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle(10);
    await controller.stop();
    assert.equal(finished, true);
  });
});
