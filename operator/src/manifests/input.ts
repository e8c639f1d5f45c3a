import {
  autoscalerClassOf,
  type InferenceService,
  type ServingRuntime,
} from '../api/v1alpha1/index.js';

/** Settings the builders need from the operator's configuration. */
export interface ManifestConfig {
  /** Image used when a runtime container names none, e.g. `tessera/server:0.1.0`. */
  readonly serverImage: string;
  /** Cluster DNS domain used in `status.url`, normally `cluster.local`. */
  readonly clusterDomain: string;
  /** Secrets (in the pod's namespace) to pull the server image with; none when omitted. */
  readonly imagePullSecrets?: readonly string[];
  /** `sizeLimit` of the model volume; {@link DEFAULT_MODEL_VOLUME_SIZE_LIMIT} when omitted. */
  readonly modelVolumeSizeLimit?: string;
  /** Egress proxy of the agent's downloads (air-gapped clusters); none when omitted. */
  readonly agentProxy?: AgentProxy;
  /**
   * A ConfigMap (in the pod's namespace) whose `ca.crt` the agent trusts in addition to Node's
   * bundled CAs, for storage behind a private CA; none when omitted.
   */
  readonly caBundleConfigMap?: string;
  /**
   * Seconds a server pod keeps serving, unready, after SIGTERM (its `shutdown_delay_seconds`);
   * {@link DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS} when omitted.
   */
  readonly serverShutdownDelaySeconds?: number;
  /** KEDA support (the `keda` autoscaler class); absent when the operator was installed without. */
  readonly keda?: KedaConfig;
}

/** What a KEDA ScaledObject's Prometheus trigger needs. */
export interface KedaConfig {
  /** The Prometheus that scrapes the server pods, e.g. `http://prometheus.monitoring:9090`. */
  readonly prometheusAddress: string;
  /** The range of the request-rate query's `rate()`, e.g. `2m` (≥ 4 scrape intervals). */
  readonly rateWindow: string;
}

/**
 * Kubernetes removes a terminating pod from its Service's endpoints and signals it at once;
 * kube-proxy and other clients learn of the removal a little later. 10 s covers a busy
 * cluster's propagation (KEP-1669 and the common preStop `sleep` advice use 5 to 15 s).
 */
export const DEFAULT_SERVER_SHUTDOWN_DELAY_SECONDS = 10;

/** Proxy settings handed to the agent, which downloads models (the server never dials out). */
export interface AgentProxy {
  readonly httpProxy?: string;
  readonly httpsProxy?: string;
  readonly noProxy?: string;
}

/** The model volume's bound when the configuration names none (the operator's default). */
export const DEFAULT_MODEL_VOLUME_SIZE_LIMIT = '20Gi';

/** Everything a builder reads. Builders are pure: same input, same output. */
export interface BuildInput {
  readonly isvc: InferenceService;
  readonly runtime: ServingRuntime;
  readonly config: ManifestConfig;
}

// The server's ports are part of the pod contract shared with the server.
export { SERVER_PORTS } from '@tessera/contract';

/**
 * Whether the operator runs an HPA: only when maxReplicas exceeds minReplicas (default 1).
 * With min == max the replica count is fixed and an HPA would be noise.
 */
export function isAutoscaled(isvc: InferenceService): boolean {
  const { minReplicas, maxReplicas } = isvc.spec.predictor;
  return maxReplicas !== undefined && maxReplicas > (minReplicas ?? 1);
}

/**
 * Whether the Deployment leaves `replicas` unset so that an autoscaler owns it: the operator's
 * HPA, or with the `external` autoscaler class one the user runs (whose own min/max apply, so
 * it holds even without a replica range here).
 */
export function replicasOwnedByAutoscaler(isvc: InferenceService): boolean {
  return isAutoscaled(isvc) || autoscalerClassOf(isvc.metadata.annotations) === 'external';
}

/** The name the model is served under: `predictor.model.name`, else the InferenceService's name. */
export function servedModelName(isvc: InferenceService): string {
  return isvc.spec.predictor.model.name ?? isvc.metadata.name;
}
