// charts/tessera against the real kube-apiserver of the test control plane: server-side dry-run
// apply of every render, Pod Security "restricted" admitting every pod the chart renders and
// every pod the operator generates from the chart's runtimes and settings, and the
// namespace-scoped operator reconciling two namespaces with nothing but the chart's Roles.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  inferenceServiceSchema,
  servingRuntimeSchema,
} from '../../../operator/src/api/v1alpha1/index.js';
import { loadConfig, type OperatorConfig } from '../../../operator/src/config.js';
import { PATCH, type KubeClient, type KubeObject } from '../../../operator/src/kube/client.js';
import { KubeApiError } from '../../../operator/src/kube/errors.js';
import { KubeConfigClient } from '../../../operator/src/kube/kube-config-client.js';
import { buildDeployment, buildPoolShard } from '../../../operator/src/manifests/index.js';
import { OperatorMetrics } from '../../../operator/src/observability/metrics.js';
import { Operator } from '../../../operator/src/operator.js';
import {
  createNamespace,
  deleteNamespace,
  isvcBody,
  kubeconfigPath,
  serviceAccountKubeConfig,
  paths,
  testClient,
  testLogger,
  waitFor,
} from '../operator/cluster.js';
import { ROOT, VALUE_SETS, kubectl, ofKind, ok, render } from './helm.js';

interface PodSpecLike {
  serviceAccountName?: string;
  [key: string]: unknown;
}
interface WithTemplate extends KubeObject {
  spec: { template: { spec: PodSpecLike } };
}
interface EnvVar {
  name: string;
  value?: string;
}

/** The plain env of the rendered operator container. */
function operatorEnv(objects: KubeObject[]): Record<string, string> {
  const [d] = ofKind<
    WithTemplate & { spec: { template: { spec: { containers: { env: EnvVar[] }[] } } } }
  >(objects, 'Deployment');
  const env = d?.spec.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(
    env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']),
  );
}

/** A path for an object of the kinds the chart renders, for a real (not dry-run) apply. */
function objectPath(o: KubeObject): string {
  const ns = o.metadata?.namespace ?? '';
  const name = o.metadata?.name ?? '';
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  switch (o.kind ?? '') {
    case 'ServiceAccount':
      return `/api/v1/namespaces/${ns}/serviceaccounts/${name}`;
    case 'Role':
      return `${rbac}/namespaces/${ns}/roles/${name}`;
    case 'RoleBinding':
      return `${rbac}/namespaces/${ns}/rolebindings/${name}`;
    case 'ServingRuntime':
      return `${paths.runtimes(ns)}/${name}`;
    default:
      throw new Error(`not applied by this test: ${String(o.kind)}`);
  }
}

async function apply(client: KubeClient, o: KubeObject): Promise<void> {
  await client.request('PATCH', objectPath(o), {
    contentType: PATCH.apply,
    query: { fieldManager: 'chart-test', force: true },
    body: o,
  });
}

describe('charts/tessera against the real kube-apiserver', () => {
  const admin = testClient();
  const created: string[] = [];
  const namespace = async (prefix: string, labels?: Record<string, string>): Promise<string> => {
    const ns = await createNamespace(admin, prefix);
    created.push(ns);
    if (labels !== undefined)
      await admin.request('PATCH', `/api/v1/namespaces/${ns}`, {
        contentType: PATCH.merge,
        body: { metadata: { labels } },
      });
    return ns;
  };

  after(async () => {
    for (const ns of created) await deleteNamespace(admin, ns);
    admin.close();
  });

  for (const [name, values] of Object.entries(VALUE_SETS)) {
    it(`accepts every object of the ${name} render in a server-side dry-run apply`, async () => {
      const release = await namespace('chart');
      const a = await namespace('team');
      const b = await namespace('team');
      const watched = name === 'default' ? [] : ['--set', `watchNamespaces={${a},${b}}`];
      const objects = await render('t', release, [...values, ...watched]);
      const run = ok(
        await kubectl(
          [
            'apply',
            '--server-side',
            '--force-conflicts',
            '--field-manager=chart-test',
            '--dry-run=server',
            '-f',
            '-',
          ],
          objects.map((o) => JSON.stringify(o)).join('\n'),
        ),
        'kubectl apply --dry-run=server',
      );
      const applied = run.stdout
        .split('\n')
        .filter((l) => l.includes('serverside-applied (server dry run)'));
      assert.equal(applied.length, objects.length, run.stdout);
    });
  }

  describe('in a namespace enforcing Pod Security "restricted"', () => {
    let restricted: string;
    const createPod = (prefix: string, spec: PodSpecLike): Promise<unknown> =>
      admin.request('POST', `/api/v1/namespaces/${restricted}/pods`, {
        query: { dryRun: 'All' },
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${prefix}-${String(Math.random()).slice(2, 8)}` },
          spec,
        },
      });

    before(async () => {
      restricted = await namespace('restricted', {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      });
    });

    it('refuses a pod that is not restricted (the check is live)', async () => {
      await assert.rejects(
        createPod('plain', { containers: [{ name: 'c', image: 'tessera/server:0.1.0' }] }),
        (err) =>
          err instanceof KubeApiError &&
          err.statusCode === 403 &&
          /violates PodSecurity "restricted/.test(err.message),
      );
    });

    for (const [name, values] of Object.entries(VALUE_SETS)) {
      it(`admits the chart's pods and every pod the operator generates (${name} values)`, async () => {
        const objects = await render('t', restricted, values);
        const templates = ofKind<WithTemplate>(objects, 'Deployment');
        assert.equal(templates.length, 1);
        for (const sa of ofKind(objects, 'ServiceAccount'))
          await admin
            .request('POST', `/api/v1/namespaces/${restricted}/serviceaccounts`, {
              body: {
                apiVersion: 'v1',
                kind: 'ServiceAccount',
                metadata: { name: sa.metadata?.name },
              },
            })
            .catch((err: unknown) => {
              if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
            });
        for (const d of templates) await createPod('operator', d.spec.template.spec);
        // The operator's pods, from the chart's own runtimes and the settings it renders.
        const config = loadConfig({ ...operatorEnv(objects), KUBERNETES_SERVICE_HOST: '10.0.0.1' });
        const runtimes = [
          ...ofKind(objects, 'ClusterServingRuntime'),
          ...ofKind(objects, 'ServingRuntime'),
        ];
        assert.equal(runtimes.length >= 5, true);
        const isvc = inferenceServiceSchema.parse({
          ...(parse(
            readFileSync(join(ROOT, 'crds/samples/inferenceservice-sklearn-iris.yaml'), 'utf8'),
          ) as object),
          metadata: { name: 'iris', namespace: restricted, uid: 'uid-isvc' },
        });
        const withSecret = inferenceServiceSchema.parse({
          ...isvc,
          spec: {
            predictor: { model: { ...isvc.spec.predictor.model, storage: { secretName: 's3' } } },
          },
        });
        for (const raw of runtimes) {
          const runtime = servingRuntimeSchema.parse({
            ...raw,
            metadata: { ...raw.metadata, uid: 'uid-rt' },
          });
          const pods = [
            buildDeployment({ isvc, runtime, config: config.manifests }),
            buildDeployment({ isvc: withSecret, runtime, config: config.manifests }),
            buildPoolShard({
              namespace: restricted,
              runtime,
              shard: 0,
              models: ['iris'],
              replicas: 1,
              config: config.manifests,
            }),
          ];
          for (const d of pods)
            await createPod(`gen-${runtime.metadata.name}`, d.spec!.template.spec as PodSpecLike);
        }
      });
    }
  });

  it('runs the namespace-scoped operator on two namespaces with only the Roles the chart grants', async () => {
    const release = await namespace('chart');
    const a = await namespace('team');
    const b = await namespace('team');
    const objects = await render('t', release, [
      ...VALUE_SETS.namespaced,
      '--set',
      `watchNamespaces={${a},${b}}`,
    ]);
    for (const kind of ['ServiceAccount', 'Role', 'RoleBinding', 'ServingRuntime'])
      for (const o of ofKind(objects, kind)) await apply(admin, o);
    const [sa] = ofKind(objects, 'ServiceAccount');
    const kc = await serviceAccountKubeConfig(admin, release, sa?.metadata?.name ?? '');
    const client = new KubeConfigClient(kc);
    const forbidden: string[] = [];
    client.observe((method, path, code) => {
      if (code === 403) forbidden.push(`${method} ${path}`);
    });
    // The rendered settings, as the pod would get them, pointed at the test control plane.
    const config: OperatorConfig = loadConfig({
      ...operatorEnv(objects),
      TESSERA_OPERATOR_KUBECONFIG: kubeconfigPath(),
      TESSERA_OPERATOR_NAMESPACE: release,
      TESSERA_OPERATOR_RESYNC_SECONDS: '2',
    });
    assert.deepEqual(config.watchNamespaces, [a, b]);
    const operator = new Operator({
      config,
      client,
      logger: testLogger(),
      metrics: new OperatorMetrics(),
    });
    await operator.start();
    try {
      for (const ns of [a, b])
        await admin.request('POST', paths.isvcs(ns), { body: isvcBody(ns, 'iris') });
      for (const ns of [a, b]) {
        const d = await waitFor(
          `the predictor Deployment in ${ns}`,
          () => admin.request<WithTemplate>('GET', paths.deployment(ns, 'iris-predictor')),
          60_000,
        );
        assert.equal(d.metadata?.labels?.['app.kubernetes.io/managed-by'], 'tessera-operator');
      }
      assert.deepEqual(forbidden, []);
      // The Roles hold nothing beyond the watched namespaces.
      await assert.rejects(
        client.request('GET', paths.isvcs(release)),
        (err) => err instanceof KubeApiError && err.statusCode === 403,
      );
      await assert.rejects(
        client.request('GET', paths.clusterRuntimes()),
        (err) => err instanceof KubeApiError && err.statusCode === 403,
      );
    } finally {
      await operator.stop();
      client.close();
    }
  });
});
