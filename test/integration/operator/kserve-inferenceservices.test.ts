// KServe parity: KServe v1beta1 InferenceServices applied with only the apiVersion changed must be
// accepted by the real kube-apiserver, and the operator must either deploy each one or say why
// not (Ready condition and a Warning Event). Runs on test/fixtures/kserve/inferenceservices, or on
// KServe's own docs/samples when TESSERA_KSERVE_SAMPLES names a folder of them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { errorMessage, isNotFound } from '../../../operator/src/kube/errors.js';
import {
  condition,
  create,
  createNamespace,
  deleteNamespace,
  paths,
  runtimeBody,
  testClient,
  waitFor,
  type RunningOperator,
} from './cluster.js';
import {
  assertNoRepeatedEvents,
  type Outcome,
  outcomeTable,
  startCountingOperator,
  warningEvent,
  yamlFiles,
} from './kserve-support.js';

const OWN_FIXTURES = join(
  import.meta.dirname,
  '..',
  '..',
  'fixtures',
  'kserve',
  'inferenceservices',
);
const SAMPLES = process.env['TESSERA_KSERVE_SAMPLES'] ?? OWN_FIXTURES;
const TESSERA_API_VERSION = 'serving.tessera.io/v1alpha1';

/** Formats the chart's default runtimes serve (charts/tessera values: onnx, xgboost, lightgbm, sklearn). */
const SERVED_FORMATS = ['onnx', 'sklearn', 'xgboost', 'lightgbm'];

/** Ready reasons that mean "refused, and this is why" (never transient). */
const REFUSALS = new Set([
  'TransformerNotSupported',
  'ExplainerNotSupported',
  'ScaleToZeroNotSupported',
  'CustomContainerNotSupported',
  'StorageSchemeNotSupported',
  'ReservedEnvName',
  'PrivilegedNotAllowed',
  'ProtocolNotSupported',
  'PortNotConfigurable',
  'AmbiguousPredictor',
  'PodFieldsInSharedMode',
  'FieldNotSupported',
  'NoSupportingRuntime',
  'InvalidSpec',
]);

/** What each of our own fixtures must come to: deployed, or refused with this reason. */
const EXPECTED: Record<string, string> = {
  'iris-gcs': 'deployed',
  'iris-https': 'deployed',
  'iris-storage-spec': 'deployed',
  'xgb-v2': 'deployed',
  lgbm: 'deployed',
  'onnx-style': 'deployed',
  'rollout-availability': 'deployed',
  'rollout-defaults': 'deployed',
  'onnx-pod-fields': 'deployed',
  'iris-logged': 'FieldNotSupported',
  'iris-nodename': 'FieldNotSupported',
  'tf-flowers': 'NoSupportingRuntime',
  'torch-mnist': 'NoSupportingRuntime',
  'torch-grpc': 'PortNotConfigurable',
  'mnist-transformed': 'TransformerNotSupported',
  'llm-hf': 'StorageSchemeNotSupported',
  'llm-pvc-zero': 'ScaleToZeroNotSupported',
  'sklearn-oci-fetch': 'StorageSchemeNotSupported',
  'sklearn-oci-native': 'StorageSchemeNotSupported',
  'sklearn-modelcar': 'StorageSchemeNotSupported',
  'onnx-reserved-env': 'ReservedEnvName',
  'onnx-privileged': 'PrivilegedNotAllowed',
  'sklearn-v1': 'ProtocolNotSupported',
  'hf-multinode': 'CustomContainerNotSupported',
  'custom-model': 'CustomContainerNotSupported',
  'custom-model-grpc': 'CustomContainerNotSupported',
  'credit-explained': 'ExplainerNotSupported',
};

interface Sample {
  readonly file: string;
  readonly body: KubeObject;
}

/** Every v1beta1 InferenceService document, with only its apiVersion changed. */
function samples(namespace: string): Sample[] {
  const taken = new Set<string>();
  return yamlFiles(SAMPLES).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc) => doc.toJS() as KubeObject | null)
      .filter(
        (o): o is KubeObject =>
          o?.kind === 'InferenceService' && o.apiVersion === 'serving.kserve.io/v1beta1',
      )
      .map((o) => {
        // The test namespace replaces theirs; a name used twice (KServe reuses a few) gets a suffix.
        let name = o.metadata?.name ?? 'unnamed';
        for (let i = 2; taken.has(name); i++)
          name = `${o.metadata?.name ?? 'unnamed'}-${String(i)}`;
        taken.add(name);
        return {
          file: file.slice(SAMPLES.length + 1),
          body: {
            ...o,
            apiVersion: TESSERA_API_VERSION,
            metadata: { ...o.metadata, name, namespace },
          },
        };
      }),
  );
}

describe('KServe v1beta1 InferenceServices port by changing only the apiVersion', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  let op: RunningOperator;
  let emitted: Map<string, number>;

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'kserve-isvc');
    for (const format of SERVED_FORMATS)
      await create(
        client,
        paths.runtimes(ns),
        runtimeBody(`tessera-${format}`, format, { namespace: ns }),
      );
    ({ op, emitted } = await startCountingOperator(ns, 'kserve-test'));
  });

  after(async () => {
    await op.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  const get = (path: string): Promise<KubeObject> => client.request<KubeObject>('GET', path);

  async function outcome(name: string): Promise<Outcome> {
    return waitFor(`${name} deployed or refused with a reason`, async () => {
      try {
        return {
          kind: 'deployed',
          deployment: await get(paths.deployment(ns, `${name}-predictor`)),
        } as const;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const ready = condition(await get(paths.isvc(ns, name)), 'Ready');
      return ready !== undefined && ready.status === 'False' && REFUSALS.has(ready.reason)
        ? ({ kind: 'refused', reason: ready.reason, message: ready.message } as const)
        : undefined;
    });
  }

  it('accepts at least 90 %, deploys what Tessera can serve and says why for every other one', async () => {
    const all = samples(ns);
    assert.ok(all.length > 0, `no v1beta1 InferenceService in ${SAMPLES}`);
    const results = new Map<string, { file: string; outcome: Outcome }>();
    for (const { file, body } of all) {
      const name = body.metadata?.name ?? '';
      try {
        // kubectl apply validates strictly on the server: an unknown field is an error, not pruned.
        await create(client, `${paths.isvcs(ns)}?fieldValidation=Strict`, body);
      } catch (err) {
        results.set(name, { file, outcome: { kind: 'rejected', message: errorMessage(err) } });
      }
    }
    for (const { file, body } of all) {
      const name = body.metadata?.name ?? '';
      if (!results.has(name)) results.set(name, { file, outcome: await outcome(name) });
    }

    const tally = {
      total: all.length,
      accepted: 0,
      deployed: 0,
      refused: new Map<string, number>(),
    };
    for (const [name, { file, outcome: o }] of results) {
      if (o.kind !== 'rejected') tally.accepted++;
      if (o.kind === 'deployed') tally.deployed++;
      if (o.kind === 'refused') tally.refused.set(o.reason, (tally.refused.get(o.reason) ?? 0) + 1);
      const detail = o.kind === 'deployed' ? '' : `: ${o.message}`;
      console.log(
        `# ${o.kind === 'refused' ? `refused (${o.reason})` : o.kind} ${name} [${file}]${detail}`,
      );
    }
    console.log(
      `# KServe InferenceServices: ${String(tally.total)} applied, ${String(tally.accepted)} accepted by the apiserver, ` +
        `${String(tally.deployed)} deployed, refused with a reason: ${JSON.stringify(Object.fromEntries(tally.refused))}`,
    );

    assert.ok(
      tally.accepted >= 0.9 * tally.total,
      `only ${String(tally.accepted)} of ${String(tally.total)} accepted`,
    );
    for (const [name, { outcome: o }] of results) {
      if (o.kind !== 'refused') continue;
      // The message names the field or format in the user's terms, and an Event says the same.
      assert.match(o.message, /predictor|spec\.|model format|Tessera/, `${name}: ${o.message}`);
      assert.doesNotMatch(
        o.message,
        /\n\s+at |\.[cm]?[jt]s:\d+/,
        `${name}: no stack frames or source paths`,
      );
      if (o.reason === 'InvalidSpec') continue;
      // Ready repeats the failing condition's message after its type ("PredictorReady: ...").
      const note = await warningEvent(client, ns, name, o.reason);
      assert.ok(o.message.endsWith(note), `${name}: Event "${note}" vs condition "${o.message}"`);
    }
    // Events are sent on transitions only: more reconciles (resyncs) of the refused ones add none.
    await assertNoRepeatedEvents(op, emitted, all.length);
    if (SAMPLES !== OWN_FIXTURES) return;
    assert.deepEqual(outcomeTable(results), EXPECTED);
  });

  it('carries the predictor pod fields into the Deployment, and the KServe scale metric into the HPA', async () => {
    if (SAMPLES !== OWN_FIXTURES) return;
    const d = await get(paths.deployment(ns, 'onnx-pod-fields-predictor'));
    const spec = d['spec'] as {
      template: {
        metadata: { labels: Record<string, string>; annotations: Record<string, string> };
        spec: Record<string, unknown>;
      };
    };
    const pod = spec.template.spec;
    assert.equal(pod['serviceAccountName'], 'model-reader');
    assert.deepEqual(pod['nodeSelector'], { 'node.kubernetes.io/instance-type': 'c5.xlarge' });
    assert.deepEqual(pod['tolerations'], [
      { key: 'dedicated', operator: 'Equal', value: 'inference', effect: 'NoSchedule' },
    ]);
    assert.deepEqual(pod['imagePullSecrets'], [{ name: 'registry-credentials' }]);
    assert.ok(pod['affinity'] !== undefined);
    assert.equal(spec.template.metadata.labels['team'], 'inference');
    assert.equal(spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
    const server = (pod['containers'] as { args?: string[] }[])[0];
    assert.deepEqual(server?.args?.slice(-2), ['--log-level', 'info']);
    const hpa = await waitFor('HPA of onnx-pod-fields', async () => {
      try {
        return await get(paths.hpa(ns, 'onnx-pod-fields-predictor'));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
    assert.match(JSON.stringify(hpa['spec']), /"name":"tessera_model_infer_in_flight"/);
    const rollout = await get(paths.deployment(ns, 'rollout-availability-predictor'));
    assert.deepEqual((rollout['spec'] as { strategy: unknown }).strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '50%' },
    });
  });
});
