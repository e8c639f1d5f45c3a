import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { isInvalid, KubeApiError } from '../../../operator/src/kube/errors.js';
import {
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  paths,
  testClient,
} from './cluster.js';

describe('CRD validation by kube-apiserver (OpenAPI schema and CEL rules)', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'validation');
  });

  after(async () => {
    await deleteNamespace(client, ns);
    client.close();
  });

  async function rejected(body: KubeObject): Promise<string> {
    try {
      await create(client, paths.isvcs(ns), body);
    } catch (err) {
      assert.ok(isInvalid(err), `expected 422, got ${String(err)}`);
      return (err as KubeApiError).message;
    }
    assert.fail(`the apiserver accepted ${JSON.stringify(body)}`);
  }

  function withModel(name: string, model: Record<string, unknown>): KubeObject {
    const body = isvcBody(ns, name);
    const spec = body['spec'] as { predictor: { model: Record<string, unknown> } };
    spec.predictor.model = { ...spec.predictor.model, ...model };
    return body;
  }

  it('rejects a storage URI that is no URI and names the schemes Tessera downloads from', async () => {
    // Other schemes (oci://, ftp://) are accepted and reported by the operator as
    // StorageSchemeNotSupported, so a KServe manifest applies (kserve-inferenceservices.test.ts).
    const message = await rejected(withModel('bad-uri', { storageUri: 'models/x' }));
    assert.match(message, /spec\.predictor\.model\.storageUri/);
    assert.match(
      message,
      /storageUri must be a URI <scheme>:\/\/<location> \(Tessera downloads from s3:\/\//,
    );
    const spaced = await rejected(withModel('bad-uri-2', { storageUri: 's3://a b' }));
    assert.match(spaced, /storageUri must be a URI/);
  });

  it("rejects a '../' model name but accepts dots inside a name", async () => {
    const message = await rejected(withModel('traversal', { name: '../etc' }));
    assert.match(message, /spec\.predictor\.model\.name/);
    assert.match(message, /contain no '\/' \(so no path like '\.\.\/x'\)/);
    await rejected(withModel('traversal-2', { name: 'a/../b' }));
    const ok = await create(client, paths.isvcs(ns), withModel('dots', { name: 'model..1' }));
    assert.equal(ok.metadata?.name, 'dots');
  });

  it("rejects a '../' object name", async () => {
    const message = await rejected(isvcBody(ns, '..'));
    assert.match(message, /metadata\.name/);
    const upper = await rejected(isvcBody(ns, 'Upper-Case'));
    assert.match(upper, /metadata\.name/);
  });

  it('rejects storage.secretName together with storage.key, and a key that is no Secret key', async () => {
    const both = await rejected(
      withModel('both-storage', {
        storageUri: 's3://models/x/',
        storage: { secretName: 'own', key: 'minio' },
      }),
    );
    assert.match(both, /storage\.secretName and storage\.key are mutually exclusive/);
    const dots = await rejected(
      withModel('dots-key', { storageUri: 's3://models/x/', storage: { key: '..data' } }),
    );
    assert.match(dots, /storage\.key must not start with '\.\.'/);
    const slash = await rejected(
      withModel('slash-key', { storageUri: 's3://models/x/', storage: { key: 'a/b' } }),
    );
    assert.match(slash, /spec\.predictor\.model\.storage\.key/);
    await create(
      client,
      paths.isvcs(ns),
      withModel('key-path', {
        storage: { key: 'minio', path: 'iris/v1', parameters: { bucket: 'models' } },
      }),
    );
  });

  it('rejects minReplicas > maxReplicas with the rule message', async () => {
    const body = isvcBody(ns, 'min-max', { minReplicas: 5, maxReplicas: 2 });
    const message = await rejected(body);
    assert.match(message, /minReplicas must be less than or equal to maxReplicas/);
  });

  it('rejects autoscaling fields that cannot produce an HPA, instead of ignoring them', async () => {
    for (const predictor of [
      { scaleMetric: 'cpu', scaleTarget: 70 },
      { scaleMetric: 'inFlight', minReplicas: 3, maxReplicas: 3 },
    ]) {
      assert.match(
        await rejected(isvcBody(ns, 'no-range', predictor)),
        /scaleMetric needs maxReplicas greater than minReplicas \(default 1\)/,
      );
    }
  });

  it('rejects unknown scale metrics, negative replicas bounds and a missing model format', async () => {
    assert.match(
      await rejected(isvcBody(ns, 'metric', { maxReplicas: 3, scaleMetric: 'gpu' })),
      /scaleMetric/,
    );
    assert.match(await rejected(isvcBody(ns, 'negative', { minReplicas: -1 })), /minReplicas/);
    const noFormat = isvcBody(ns, 'no-format');
    delete (noFormat['spec'] as { predictor: { model: Record<string, unknown> } }).predictor.model[
      'modelFormat'
    ];
    assert.match(await rejected(noFormat), /modelFormat: Required value/);
  });

  it('rejects a runtime priority below 1', async () => {
    try {
      await create(client, paths.runtimes(ns), {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'ServingRuntime',
        metadata: { name: 'bad-priority', namespace: ns },
        spec: {
          supportedModelFormats: [{ name: 'onnx', priority: 0 }],
          containers: [{ name: 'c' }],
        },
      });
      assert.fail('accepted priority 0');
    } catch (err) {
      assert.ok(isInvalid(err));
      assert.match((err as Error).message, /priority/);
    }
  });
});
