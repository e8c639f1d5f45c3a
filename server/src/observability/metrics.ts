/**
 * Every Prometheus metric the server exposes, in one registry, served on its own port.
 *
 * Tessera's own names follow Prometheus naming (base units, `_total`). MLServer's names are
 * exposed as well (model_infer_request_*, rest_server_*, grpc_server_*), so existing dashboards
 * keep working (v2-protocol.md §5.2). Labels are bounded: model, version, method, route template,
 * status code — never a request id or a raw URL.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import type { CoreObserver, InferOutcome } from '../core/ports.js';

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The server's metrics; also the core's observer. */
export class ServerMetrics implements CoreObserver {
  readonly registry = new Registry();

  readonly #inferTotal: Counter<'model' | 'version' | 'outcome'>;
  readonly #inferDuration: Histogram<'model' | 'version'>;
  readonly #inFlight: Gauge<'model' | 'version'>;
  readonly #loadDuration: Histogram<'model'>;
  readonly #loadFailures: Counter<'model'>;
  readonly #memory: Gauge<'model' | 'version'>;
  readonly #mlSuccess: Counter<'model' | 'version'>;
  readonly #mlFailure: Counter<'model' | 'version'>;
  readonly #mlDuration: Summary<'model' | 'version'>;
  readonly #batchSize: Histogram<'model' | 'version'>;
  readonly #batchQueueWait: Histogram<'model' | 'version'>;
  readonly #cacheHits: Counter<'model' | 'version'>;
  readonly #cacheMisses: Counter<'model' | 'version'>;
  readonly #cacheEvictions: Counter;
  readonly #restTotal: Counter<'method' | 'route' | 'status_code'>;
  readonly #restDuration: Histogram<'method' | 'route'>;
  readonly #mlRestTotal: Counter<'method' | 'path' | 'status_code' | 'app_name'>;
  readonly #mlRestDuration: Histogram<'method' | 'path' | 'status_code' | 'app_name'>;
  readonly #mlRestInProgress: Gauge<'method' | 'app_name'>;
  readonly #grpcTotal: Counter<'method' | 'code'>;
  readonly #grpcDuration: Histogram<'method'>;
  readonly #grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly #grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly #grpcHandling: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;

  constructor(options: { restPrefix: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const p = options.restPrefix;
    this.#inferTotal = new Counter({
      name: 'tessera_model_infer_requests_total',
      help: 'Inference requests per model and version, by outcome.',
      labelNames: ['model', 'version', 'outcome'],
      registers,
    });
    this.#inferDuration = new Histogram({
      name: 'tessera_model_infer_duration_seconds',
      help: 'Inference latency in the core (validation + model), in seconds.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'tessera_model_infer_in_flight',
      help: 'Inference requests currently being processed, per model and version.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.#loadDuration = new Histogram({
      name: 'tessera_model_load_duration_seconds',
      help: 'Time to load a model version, in seconds.',
      labelNames: ['model'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120],
      registers,
    });
    this.#loadFailures = new Counter({
      name: 'tessera_model_load_failures_total',
      help: 'Failed model loads.',
      labelNames: ['model'],
      registers,
    });
    this.#memory = new Gauge({
      name: 'tessera_model_memory_bytes',
      help: "The runtime's estimate of the memory a loaded model version holds, in bytes (the index's memory_bytes).",
      labelNames: ['model', 'version'],
      registers,
    });
    this.#mlSuccess = new Counter({
      name: 'model_infer_request_success_total',
      help: 'MLServer-compatible: successful inference requests.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.#mlFailure = new Counter({
      name: 'model_infer_request_failure_total',
      help: 'MLServer-compatible: failed inference requests.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.#mlDuration = new Summary({
      name: 'model_infer_request_duration',
      help: 'MLServer-compatible: inference duration in seconds.',
      labelNames: ['model', 'version'],
      percentiles: [],
      registers,
    });
    this.#batchSize = new Histogram({
      name: 'tessera_model_batch_size',
      help: 'Rows per runtime execution of an adaptively batched model (max_batch_size > 1).',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.#batchQueueWait = new Histogram({
      name: 'tessera_model_batch_queue_wait_seconds',
      help: 'Time a request of an adaptively batched model waited for its batch, in seconds.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // Triton's nv_cache_num_hits_per_model / nv_cache_num_misses_per_model, in this server's names.
    this.#cacheHits = new Counter({
      name: 'tessera_model_cache_hits_total',
      help: 'Inference requests answered from the response cache.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.#cacheMisses = new Counter({
      name: 'tessera_model_cache_misses_total',
      help: 'Inference requests of a caching model that the response cache could not answer.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.#cacheEvictions = new Counter({
      name: 'tessera_response_cache_evictions_total',
      help: 'Answers evicted from the response cache to make room (cache_size, cache_max_bytes).',
      registers,
    });
    this.#restTotal = new Counter({
      name: 'tessera_rest_requests_total',
      help: 'REST requests by route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.#restDuration = new Histogram({
      name: 'tessera_rest_request_duration_seconds',
      help: 'REST request latency, in seconds.',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#mlRestTotal = new Counter({
      name: `${p}_requests_total`,
      help: 'MLServer-compatible: REST requests.',
      labelNames: ['method', 'path', 'status_code', 'app_name'],
      registers,
    });
    this.#mlRestDuration = new Histogram({
      name: `${p}_request_duration_seconds`,
      help: 'MLServer-compatible: REST request duration.',
      labelNames: ['method', 'path', 'status_code', 'app_name'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#mlRestInProgress = new Gauge({
      name: `${p}_requests_in_progress`,
      help: 'MLServer-compatible: REST requests in progress.',
      labelNames: ['method', 'app_name'],
      registers,
    });
    this.#grpcTotal = new Counter({
      name: 'tessera_grpc_requests_total',
      help: 'gRPC requests by method and status code.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.#grpcDuration = new Histogram({
      name: 'tessera_grpc_request_duration_seconds',
      help: 'gRPC request latency, in seconds.',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#grpcStarted = new Counter({
      name: 'grpc_server_started_total',
      help: 'MLServer-compatible: RPCs started on the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      registers,
    });
    this.#grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'MLServer-compatible: RPCs completed on the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers,
    });
    this.#grpcHandling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'MLServer-compatible: RPC handling time.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  inferStarted(model: string, version: string): void {
    this.#inFlight.inc({ model, version });
  }

  inferFinished(model: string, version: string, seconds: number, outcome: InferOutcome): void {
    this.#inFlight.dec({ model, version });
    this.#inferTotal.inc({ model, version, outcome });
    this.#inferDuration.observe({ model, version }, seconds);
    if (outcome === 'success') this.#mlSuccess.inc({ model, version });
    else this.#mlFailure.inc({ model, version });
    this.#mlDuration.observe({ model, version }, seconds);
  }

  modelLoaded(model: string, version: string, seconds: number, memoryBytes?: number): void {
    this.#loadDuration.observe({ model }, seconds);
    if (memoryBytes === undefined) this.#memory.remove({ model, version });
    else this.#memory.set({ model, version }, memoryBytes);
  }

  modelLoadFailed(model: string): void {
    this.#loadFailures.inc({ model });
  }

  batchExecuted(model: string, version: string, rows: number): void {
    this.#batchSize.observe({ model, version }, rows);
  }

  batchQueueWait(model: string, version: string, seconds: number): void {
    this.#batchQueueWait.observe({ model, version }, seconds);
  }

  cacheLookup(model: string, version: string, hit: boolean): void {
    (hit ? this.#cacheHits : this.#cacheMisses).inc({ model, version });
  }

  cacheEvicted(): void {
    this.#cacheEvictions.inc();
  }

  /** Drops a model version's series so that unloaded models don't linger in scrapes. */
  modelUnloaded(model: string, version: string): void {
    for (const metric of [
      this.#memory,
      this.#inFlight,
      this.#inferDuration,
      this.#mlSuccess,
      this.#mlFailure,
      this.#mlDuration,
      this.#batchSize,
      this.#batchQueueWait,
      this.#cacheHits,
      this.#cacheMisses,
    ]) {
      metric.remove({ model, version });
    }
    for (const outcome of ['success', 'failure'])
      this.#inferTotal.remove({ model, version, outcome });
  }

  /** Called when a REST request starts; returns the function that records its end. */
  restStarted(method: string): (route: string, statusCode: number, seconds: number) => void {
    this.#mlRestInProgress.inc({ method, app_name: 'tessera' });
    return (route, statusCode, seconds) => {
      const status_code = String(statusCode);
      this.#mlRestInProgress.dec({ method, app_name: 'tessera' });
      this.#restTotal.inc({ method, route, status_code });
      this.#restDuration.observe({ method, route }, seconds);
      this.#mlRestTotal.inc({ method, path: route, status_code, app_name: 'tessera' });
      this.#mlRestDuration.observe(
        { method, path: route, status_code, app_name: 'tessera' },
        seconds,
      );
    };
  }

  /** Records a completed RPC. `service` is the full service name, `method` the RPC name. */
  grpcHandled(
    rpc: { service: string; method: string; type: string },
    code: string,
    seconds: number,
  ): void {
    const labels = { grpc_type: rpc.type, grpc_service: rpc.service, grpc_method: rpc.method };
    this.#grpcHandled.inc({ ...labels, grpc_code: code });
    this.#grpcHandling.observe(labels, seconds);
    this.#grpcTotal.inc({ method: rpc.method, code });
    this.#grpcDuration.observe({ method: rpc.method }, seconds);
  }

  /** Records the start of an RPC. */
  grpcStarted(rpc: { service: string; method: string; type: string }): void {
    this.#grpcStarted.inc({
      grpc_type: rpc.type,
      grpc_service: rpc.service,
      grpc_method: rpc.method,
    });
  }
}
