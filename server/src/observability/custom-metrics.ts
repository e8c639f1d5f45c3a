/**
 * Custom metrics from MLServer runtimes (`mlserver.register(name, description)`,
 * `mlserver.log(**metrics)`) served by the Python worker, exposed in the server's registry as
 * MLServer exposes them: a histogram per name with prometheus_client's default buckets and the
 * labels `model_name` and `model_version`. Names come from model code, so they are validated and
 * bounded per model; a refusal is one warning in the log (once per model and name), never an error
 * for the request or the model.
 */
import { Histogram, type Registry } from 'prom-client';
import type { Logger } from '../core/ports.js';
import type { CustomMetricSink, ModelLabels } from '../runtime/python/metric-frames.js';

/** prometheus_client's `Histogram.DEFAULT_BUCKETS` (+Inf is implicit in prom-client). */
export const PROMETHEUS_CLIENT_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Prometheus's metric name syntax. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const MAX_NAME_LENGTH = 200;
const MAX_WARNINGS = 1000;

export interface CustomMetricsOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Distinct custom metric names one model (name and version) may create. */
  readonly maxPerModel: number;
}

/** Why a custom metric name is refused, or undefined when it is acceptable. Pure. */
export function invalidMetricName(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    return `a metric name has 1 to ${String(MAX_NAME_LENGTH)} characters`;
  }
  if (!METRIC_NAME.test(name)) {
    return 'a metric name has only letters, digits, _ and : and does not start with a digit';
  }
  return undefined;
}

/** The custom metrics of every Python model, in the server's registry. */
export class CustomMetrics implements CustomMetricSink {
  readonly #options: CustomMetricsOptions;
  readonly #histograms = new Map<string, Histogram<'model_name' | 'model_version'>>();
  /** The names each model created, for the per-model bound. */
  readonly #byModel = new Map<string, Set<string>>();
  /** Refusals already logged (`model\0name`), so a predict loop logs each once. */
  readonly #warned = new Set<string>();

  constructor(options: CustomMetricsOptions) {
    this.#options = options;
  }

  register(model: ModelLabels, name: string, description: string): void {
    this.#histogram(model, name, description);
  }

  observe(model: ModelLabels, name: string, value: number): void {
    if (!Number.isFinite(value)) {
      this.#refuse(model, name, 'the value is not a finite number');
      return;
    }
    this.#histogram(model, name, undefined)
      ?.labels({ model_name: model.name, model_version: model.version })
      .observe(value);
  }

  /** The histogram for `name`, created on first use, or undefined when refused (and logged). */
  #histogram(
    model: ModelLabels,
    name: string,
    description: string | undefined,
  ): Histogram<'model_name' | 'model_version'> | undefined {
    const invalid = invalidMetricName(name);
    if (invalid !== undefined) {
      this.#refuse(model, name, invalid);
      return undefined;
    }
    const modelKey = `${model.name}\0${model.version}`;
    const names = this.#byModel.get(modelKey) ?? new Set<string>();
    if (!names.has(name) && names.size >= this.#options.maxPerModel) {
      this.#refuse(
        model,
        name,
        `the model already has ${String(this.#options.maxPerModel)} custom metrics (the limit)`,
      );
      return undefined;
    }
    let histogram = this.#histograms.get(name);
    if (histogram === undefined) {
      if (this.#options.registry.getSingleMetric(name) !== undefined) {
        this.#refuse(model, name, 'the server already has a metric of that name');
        return undefined;
      }
      histogram = new Histogram({
        name,
        // MLServer's `log` creates a metric it has not seen with a default description.
        help: description ?? `Custom metric ${name}`,
        labelNames: ['model_name', 'model_version'],
        buckets: PROMETHEUS_CLIENT_BUCKETS,
        registers: [this.#options.registry],
      });
      this.#histograms.set(name, histogram);
    }
    names.add(name);
    this.#byModel.set(modelKey, names);
    return histogram;
  }

  #refuse(model: ModelLabels, name: string, why: string): void {
    const key = `${model.name}\0${model.version}\0${name}`;
    // Bounded too: a model inventing names in a loop must not grow this set without end.
    if (this.#warned.has(key) || this.#warned.size >= MAX_WARNINGS) return;
    this.#warned.add(key);
    this.#options.logger.warn(
      { model: model.name, version: model.version, metric: name.slice(0, MAX_NAME_LENGTH), why },
      'custom metric refused; the model keeps serving without it',
    );
  }
}
