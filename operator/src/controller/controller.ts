import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../kube/errors.js';
import type { OperatorMetrics } from '../observability/metrics.js';
import type { ReconcileResult } from './result.js';
import { WorkQueue } from './workqueue.js';

/** Reconciles one key; receives a logger carrying namespace, name and reconcileID. */
export type ReconcileFn = (key: string, log: Logger) => Promise<ReconcileResult>;

/** Options of a {@link Controller}. */
export interface ControllerOptions {
  readonly name: string;
  readonly workers: number;
  readonly reconcile: ReconcileFn;
  readonly logger: Logger;
  readonly metrics: OperatorMetrics;
  readonly queue?: WorkQueue;
}

function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * Runs N workers over a keyed work queue and maps each {@link ReconcileResult} onto the queue:
 * forget, requeue after a delay, retry with backoff, or drop. A reconcile that throws is a retry.
 */
export class Controller {
  readonly queue: WorkQueue;
  private readonly workers: Promise<void>[] = [];

  constructor(private readonly options: ControllerOptions) {
    const labels = { name: options.name };
    this.queue =
      options.queue ??
      new WorkQueue(undefined, undefined, {
        onAdd: () => {
          options.metrics.queueAdds.inc(labels);
        },
        onRetry: () => {
          options.metrics.queueRetries.inc(labels);
        },
        onDepth: (depth) => {
          options.metrics.queueDepth.set(labels, depth);
        },
      });
  }

  /** Queues a key (events only ever enqueue keys; reconcile reads the current state). */
  enqueue(key: string): void {
    this.options.metrics.queueDepth.set({ name: this.options.name }, this.queue.length);
    this.queue.add(key);
  }

  /** Starts the workers. */
  start(): void {
    for (let i = 0; i < this.options.workers; i++) this.workers.push(this.work());
  }

  /** Stops handing out keys and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async processKey(key: string): Promise<void> {
    const { name, metrics } = this.options;
    const log = this.options.logger.child({
      controller: name,
      ...splitKey(key),
      reconcileID: randomUUID(),
    });
    const endTimer = metrics.reconcileTime.startTimer({ controller: name });
    metrics.activeWorkers.inc({ controller: name });
    let result: ReconcileResult;
    try {
      result = await this.options.reconcile(key, log);
    } catch (error) {
      result = { kind: 'retry', error };
    } finally {
      endTimer();
      metrics.activeWorkers.dec({ controller: name });
    }
    this.settle(key, result, log);
  }

  private settle(key: string, result: ReconcileResult, log: Logger): void {
    const { name, metrics } = this.options;
    switch (result.kind) {
      case 'done':
        this.queue.forget(key);
        metrics.reconcileTotal.inc({ controller: name, result: 'success' });
        return;
      case 'requeueAfter':
        this.queue.forget(key);
        this.queue.addAfter(key, result.ms);
        metrics.reconcileTotal.inc({ controller: name, result: 'requeue_after' });
        return;
      case 'retry': {
        const delayMs = this.queue.addRateLimited(key);
        metrics.reconcileTotal.inc({ controller: name, result: 'error' });
        metrics.reconcileErrors.inc({ controller: name });
        log.info(
          { err: errorMessage(result.error), retryInMs: delayMs },
          'Reconcile failed, will retry',
        );
        return;
      }
      case 'terminal':
        this.queue.forget(key);
        metrics.reconcileTotal.inc({ controller: name, result: 'error' });
        metrics.reconcileErrors.inc({ controller: name });
        metrics.reconcileTerminalErrors.inc({ controller: name });
        log.warn({ err: errorMessage(result.error) }, 'Reconcile failed terminally, not retrying');
        return;
    }
  }
}
