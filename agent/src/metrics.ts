/** The agent's Prometheus metrics (prom-client), one registry; labels are low-cardinality. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcome of one pull request for an artefact. */
export type PullOutcome = 'success' | 'failure' | 'cached';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #pulls: Counter<'scheme' | 'outcome'>;
  readonly #bytes: Counter<'scheme'>;
  readonly #duration: Histogram<'scheme' | 'outcome'>;
  readonly #inFlight: Gauge;
  readonly #loads: Counter<'outcome'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_agent_' });
    this.#pulls = new Counter({
      name: 'tessera_agent_pulls_total',
      help: 'Artefact pulls by storage scheme and outcome (cached: already on the volume).',
      labelNames: ['scheme', 'outcome'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'tessera_agent_pull_bytes_total',
      help: 'Bytes downloaded by storage scheme.',
      labelNames: ['scheme'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'tessera_agent_pull_duration_seconds',
      help: 'Duration of artefact pulls.',
      labelNames: ['scheme', 'outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'tessera_agent_pulls_in_flight',
      help: 'Pulls in progress.',
      registers,
    });
    this.#loads = new Counter({
      name: 'tessera_agent_loads_total',
      help: 'Load requests by outcome (noop: already serving that storage_uri).',
      labelNames: ['outcome'],
      registers,
    });
  }

  /** Marks a pull as started; call the result with its outcome and bytes. */
  pullStarted(scheme: string): (outcome: PullOutcome, bytes: number) => void {
    this.#inFlight.inc();
    const end = this.#duration.startTimer({ scheme });
    return (outcome, bytes) => {
      this.#inFlight.dec();
      end({ outcome });
      this.#pulls.inc({ scheme, outcome });
      if (bytes > 0) this.#bytes.inc({ scheme }, bytes);
    };
  }

  pullCached(scheme: string): void {
    this.#pulls.inc({ scheme, outcome: 'cached' });
  }

  loadFinished(outcome: 'success' | 'failure' | 'noop'): void {
    this.#loads.inc({ outcome });
  }
}
