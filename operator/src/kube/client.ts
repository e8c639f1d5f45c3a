/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
    }[];
    managedFields?: {
      manager?: string;
      operation?: string;
      fieldsV1?: unknown;
      subresource?: string;
    }[];
    deletionTimestamp?: string;
    finalizers?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** A list response. */
export interface KubeList {
  items: KubeObject[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** One event of a watch stream (API concepts, "Efficient detection of changes"). */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

/** Options of one request. */
export interface RequestOptions {
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
}

/** Content types of the patch flavours the operator uses. */
export const PATCH = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
} as const;

/** Called after every request; used for metrics and by tests that count writes. */
export type RequestObserver = (method: string, path: string, statusCode: number) => void;

/**
 * The narrow Kubernetes client the operator needs. The implementation is
 * `KubeConfigClient` (kube-config-client.ts) on @kubernetes/client-node's KubeConfig
 * (ADR 0009); integration tests use it against kube-apiserver, unit tests an in-memory fake.
 */
export interface KubeClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** Streams a watch until the server closes it, `signal` aborts, or an error occurs. */
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}
