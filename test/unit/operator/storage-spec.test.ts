// What spec.predictor.model.storage means: Shared mode refuses a per-model Secret (with a message
// that says what to do instead), storage.key reaches the agent's load request, and storage.path
// with parameters.bucket composes the URI as KServe's StorageSpec does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentLoadParametersSchema } from '@tessera/contract';
import { inferenceServiceSchema } from '../../../operator/src/api/v1alpha1/index.js';
import { desiredModel } from '../../../operator/src/reconcilers/model-driver/reconciler.js';
import {
  effectiveStorageUri,
  sharedStorageProblem,
} from '../../../operator/src/reconcilers/storage-spec.js';
import { computeStatus } from '../../../operator/src/reconcilers/inference-service/status.js';
import { isvc } from './fixtures.js';

const shared = (storage: Record<string, unknown>, storageUri?: string) => {
  const base = isvc({
    model: {
      modelFormat: { name: 'onnx' },
      ...(storageUri === undefined ? {} : { storageUri }),
      storage,
    },
  });
  return { ...base, spec: { ...base.spec, deploymentMode: 'Shared' as const } };
};

describe('storage spec', () => {
  it('refuses storage.secretName in Shared mode and says to use storage.key', () => {
    const problem = sharedStorageProblem(shared({ secretName: 's3-creds' }, 's3://m/iris/'));
    assert.ok(problem !== undefined);
    assert.match(problem, /storage\.secretName is not supported in Shared mode/);
    assert.match(problem, /Secret 'tessera-storage-config' in namespace 'models'/);
    assert.match(problem, /set spec\.predictor\.model\.storage\.key/);
  });

  it('accepts storage.key in Shared mode and storage.secretName in Dedicated mode', () => {
    assert.equal(sharedStorageProblem(shared({ key: 'minio' }, 's3://m/iris/')), undefined);
    const dedicated = isvc({
      model: {
        modelFormat: { name: 'onnx' },
        storageUri: 's3://m/',
        storage: { secretName: 'own' },
      },
    });
    assert.equal(sharedStorageProblem(dedicated), undefined);
  });

  it('reports the refusal as a condition with transitionStatus InvalidSpec', () => {
    const message = sharedStorageProblem(shared({ secretName: 'x' }, 's3://m/')) ?? '';
    const status = computeStatus({
      generation: 1,
      deploymentMode: 'Shared',
      predictor: {
        kind: 'blocked',
        reason: 'StorageSecretNotSupportedInShared',
        message,
        transitionStatus: 'InvalidSpec',
      },
      runtime: undefined,
      url: undefined,
      previous: undefined,
      now: '2026-01-01T00:00:00Z',
      selector: 'app=iris',
    });
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'StorageSecretNotSupportedInShared');
    assert.equal(status.modelStatus?.transitionStatus, 'InvalidSpec');
  });

  it('passes storage.key to the agent, and the load request validates it', () => {
    const desired = desiredModel(shared({ key: 'minio' }, 's3://m/iris/'));
    assert.deepEqual(desired, {
      name: 'iris',
      storageUri: 's3://m/iris/',
      format: 'onnx',
      storageKey: 'minio',
    });
    assert.ok(
      agentLoadParametersSchema.safeParse({ storage_uri: 's3://m/', storage_key: 'minio' }).success,
    );
    for (const bad of ['..data', '../x', 'a/b', ''])
      assert.equal(
        agentLoadParametersSchema.safeParse({ storage_uri: 's3://m/', storage_key: bad }).success,
        false,
        bad,
      );
  });

  it('composes the URI from storage.path and parameters.bucket when storageUri is absent', () => {
    assert.equal(
      effectiveStorageUri(shared({ key: 'k', path: '/iris/v1', parameters: { bucket: 'models' } })),
      's3://models/iris/v1',
    );
    assert.equal(
      effectiveStorageUri(
        shared({ key: 'k', path: 'iris', parameters: { bucket: 'b', type: 'gcs' } }),
      ),
      'gs://b/iris',
    );
    assert.equal(effectiveStorageUri(shared({ key: 'k', path: 'iris' })), undefined);
    assert.equal(
      effectiveStorageUri(shared({ path: 'x', parameters: { bucket: 'b' } }, 's3://given/')),
      's3://given/',
    );
  });

  it('refuses storage.secretName together with storage.key (as the CRD does)', () => {
    const both = shared({ key: 'k', secretName: 's' }, 's3://m/');
    const parsed = inferenceServiceSchema.safeParse(both);
    assert.equal(parsed.success, false);
    assert.match(JSON.stringify(parsed.error?.issues), /mutually exclusive/);
  });
});
