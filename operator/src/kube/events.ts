import type { Logger } from 'pino';
import type { KubeClient } from './client.js';
import { PATCH } from './client.js';
import { errorMessage } from './errors.js';

/** The object an Event is about (events.k8s.io/v1 `regarding`). */
export interface EventRegarding {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

/** One Event as the reconciler states it; `reason` is CamelCase, `action` a verb. */
export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly action: string;
  readonly note: string;
}

/** Where reconcilers send Events; fire-and-forget, so a failed Event never fails a reconcile. */
export interface EventSink {
  emit(regarding: EventRegarding, event: EventSpec): void;
}

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** `reportingController`, e.g. `tessera-operator`. */
  readonly controller: string;
  /** `reportingInstance`: this replica (pod name or host_pid). */
  readonly instance: string;
  readonly logger: Logger;
  /** Repeats of the same Event within this window become a series on it (client-go: 6 min). */
  readonly seriesWindowMs?: number;
  /** How often a changed series is written to the API (client-go: 30 min). */
  readonly seriesFlushMs?: number;
  readonly now?: () => number;
}

interface Recorded {
  readonly name: string;
  readonly namespace: string;
  count: number;
  lastMs: number;
  dirty: boolean;
}

/** Event notes are limited to 1 kB (events.k8s.io/v1 validation). */
const MAX_NOTE = 1024;
/** Bound on remembered Events, oldest first out. */
const MAX_REMEMBERED = 4096;

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/**
 * Writes events.k8s.io/v1 Events, as client-go's events recorder (tools/events) does: a new
 * Event is created once; the same Event again within the series window only counts in memory,
 * and the count reaches the API as `series` on that Event at most every `seriesFlushMs`. So a
 * repeat costs no write, and a failure retried with backoff shows as one Event with a count.
 * Reconcilers call it on transitions; this absorbs the repeats a lagging cache lets through.
 */
export class EventRecorder implements EventSink {
  private readonly recorded = new Map<string, Recorded>();
  private sequence = 0;
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    private readonly client: KubeClient,
    private readonly options: EventRecorderOptions,
  ) {
    this.flushTimer = setInterval(
      () => {
        void this.flush();
      },
      options.seriesFlushMs ?? 30 * 60_000,
    );
    this.flushTimer.unref();
  }

  /** Stops the periodic series writes. */
  close(): void {
    clearInterval(this.flushTimer);
  }

  /** Writes `series` on every Event that repeated since the last flush. */
  async flush(): Promise<void> {
    for (const entry of this.recorded.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      await this.client
        .request('PATCH', eventPath(entry.namespace, entry.name), {
          contentType: PATCH.merge,
          body: { series: { count: entry.count, lastObservedTime: microTime(entry.lastMs) } },
        })
        .catch((err: unknown) => {
          this.options.logger.debug({ err: errorMessage(err) }, 'Failed to update Event series');
        });
    }
  }

  emit(regarding: EventRegarding, event: EventSpec): void {
    this.record(regarding, event).catch((err: unknown) => {
      this.options.logger.warn(
        { err: errorMessage(err), reason: event.reason, name: regarding.name },
        'Failed to record Event',
      );
    });
  }

  /** Creates the Event, or extends its series; resolves when the write is done. */
  async record(regarding: EventRegarding, event: EventSpec): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const note =
      event.note.length > MAX_NOTE ? `${event.note.slice(0, MAX_NOTE - 3)}...` : event.note;
    const key = [
      regarding.namespace,
      regarding.kind,
      regarding.name,
      regarding.uid,
      event.type,
      event.reason,
      note,
    ].join('\0');
    const previous = this.recorded.get(key);
    if (
      previous !== undefined &&
      now - previous.lastMs < (this.options.seriesWindowMs ?? 360_000)
    ) {
      previous.count++;
      previous.lastMs = now;
      previous.dirty = true;
      return;
    }
    // client-go names Events <object>.<unix nanos in hex>; the sequence keeps two in one ms apart.
    const name = `${regarding.name}.${(BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
    // Remembered before the write, so a repeat arriving meanwhile counts instead of creating.
    this.recorded.delete(key);
    this.recorded.set(key, {
      name,
      namespace: regarding.namespace,
      count: 1,
      lastMs: now,
      dirty: false,
    });
    if (this.recorded.size > MAX_REMEMBERED) {
      const oldest = this.recorded.keys().next().value;
      if (oldest !== undefined) this.recorded.delete(oldest);
    }
    try {
      await this.client.request('POST', eventPath(regarding.namespace), {
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace: regarding.namespace },
          eventTime: microTime(now),
          reportingController: this.options.controller,
          reportingInstance: this.options.instance.slice(0, 128),
          type: event.type,
          reason: event.reason,
          action: event.action,
          note,
          regarding,
        },
      });
    } catch (err) {
      this.recorded.delete(key);
      throw err;
    }
  }
}

function eventPath(namespace: string, name?: string): string {
  const base = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}
