/**
 * What `spec.predictor.model.storage` means for where the agent pulls from. Shared by the
 * InferenceService, placement and model-driver reconcilers so they refuse the same specs.
 */
import { STORAGE_CONFIG_SECRET } from '@tessera/contract';
import type { InferenceService } from '../api/v1alpha1/index.js';

/** Condition reason for a Shared InferenceService that names a Secret of its own. */
export const STORAGE_SECRET_IN_SHARED = 'StorageSecretNotSupportedInShared';

/**
 * Why a Shared InferenceService cannot be placed because of its storage spec, or undefined.
 * A pool shard serves many models: mounting each model's Secret would restart the whole shard
 * whenever a model with a new Secret is placed, so Shared mode reads credentials only from the
 * namespace's storage-config Secret. Refused loudly, never ignored: the model would otherwise
 * fail later with "access denied" and nothing saying why.
 */
export function sharedStorageProblem(isvc: InferenceService): string | undefined {
  const storage = isvc.spec.predictor.model.storage;
  if (isvc.spec.deploymentMode !== 'Shared' || storage?.secretName === undefined) return undefined;
  return `spec.predictor.model.storage.secretName is not supported in Shared mode (pool shards serve many models and mount no per-model Secret): put the credentials as one JSON entry under a key of the Secret '${STORAGE_CONFIG_SECRET}' in namespace '${isvc.metadata.namespace ?? 'default'}' and set spec.predictor.model.storage.key to that key`;
}

/**
 * The storage URI the agent pulls: `storageUri`, or, as KServe's StorageSpec has it,
 * `storage.path` in `storage.parameters.bucket` (s3://, or gs:// for `parameters.type: gcs`).
 */
export function effectiveStorageUri(isvc: InferenceService): string | undefined {
  const model = isvc.spec.predictor.model;
  if (model.storageUri !== undefined) return model.storageUri;
  const { path, parameters } = model.storage ?? {};
  if (path === undefined || parameters?.bucket === undefined) return undefined;
  const scheme = parameters.type === 'gcs' ? 'gs' : 's3';
  return `${scheme}://${parameters.bucket}/${path.replace(/^\/+/, '')}`;
}
