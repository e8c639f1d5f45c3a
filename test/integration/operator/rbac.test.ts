import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { pino } from 'pino';
import { PATCH, type KubeObject } from '../../../operator/src/kube/client.js';
import { EventRecorder } from '../../../operator/src/kube/events.js';
import { KubeConfigClient } from '../../../operator/src/kube/kube-config-client.js';
import { KubeApiError, isNotFound } from '../../../operator/src/kube/errors.js';
import { LeaderElector } from '../../../operator/src/controller/leader-election.js';
import { OperatorMetrics } from '../../../operator/src/observability/metrics.js';
import { Operator } from '../../../operator/src/operator.js';
import {
  condition,
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  serviceAccountKubeConfig,
  paths,
  runtimeBody,
  testClient,
  testConfig,
  testLogger,
  waitFor,
} from './cluster.js';

const RBAC = join(import.meta.dirname, '../../../deploy/operator/rbac.yaml');

/** deploy/operator/rbac.yaml, moved into `ns` and given cluster-unique names. */
function rbacObjects(ns: string): KubeObject[] {
  const text = readFileSync(RBAC, 'utf8').replaceAll('tessera-system', ns);
  return parseAllDocuments(text).map((d) => {
    const o = d.toJSON() as KubeObject & { roleRef?: { name: string } };
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')
      o.metadata!.name = `${o.metadata!.name!}-${ns}`;
    if (o.kind === 'ClusterRoleBinding') o.roleRef!.name = `${o.roleRef!.name}-${ns}`;
    return o;
  });
}

function pathOf(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  const name = o.metadata?.name ?? '';
  switch (o.kind ?? '') {
    case 'ServiceAccount':
      return `/api/v1/namespaces/${ns!}/serviceaccounts/${name}`;
    case 'ClusterRole':
      return `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`;
    case 'ClusterRoleBinding':
      return `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`;
    case 'Role':
      return `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns!}/roles/${name}`;
    case 'RoleBinding':
      return `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns!}/rolebindings/${name}`;
    default:
      throw new Error(`unexpected kind ${String(o.kind)}`);
  }
}

describe('the operator under its least-privilege RBAC (deploy/operator/rbac.yaml)', () => {
  let admin: ReturnType<typeof testClient>;
  let sa: KubeConfigClient;
  let ns: string;
  let objects: KubeObject[];

  before(async () => {
    admin = testClient();
    ns = await createNamespace(admin, 'rbac');
    objects = rbacObjects(ns);
    for (const o of objects) {
      await admin.request('PATCH', pathOf(o), {
        contentType: PATCH.apply,
        query: { fieldManager: 'tests', force: true },
        body: o,
      });
    }
    // A bound service-account token, as the kubelet would mount into the operator's pod.
    const kc = await serviceAccountKubeConfig(admin, ns, 'tessera-operator');
    sa = new KubeConfigClient(kc);
    await create(admin, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
  });

  after(async () => {
    sa.close();
    for (const o of objects.filter(
      (x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding',
    )) {
      await admin.request('DELETE', pathOf(o)).catch(() => undefined);
    }
    await deleteNamespace(admin, ns);
    admin.close();
  });

  it('reconciles create, autoscaling on and off, and status with only the granted verbs', async () => {
    const metrics = new OperatorMetrics();
    const forbidden: string[] = [];
    sa.observe((method, path, code) => {
      if (code === 403) forbidden.push(`${method} ${path}`);
    });
    const operator = new Operator({
      config: testConfig(ns),
      client: sa,
      logger: testLogger(),
      metrics,
      events: new EventRecorder(sa, {
        controller: 'tessera-operator',
        instance: 'rbac-test',
        logger: testLogger(),
      }),
    });
    await operator.start();
    try {
      await create(
        admin,
        paths.isvcs(ns),
        isvcBody(ns, 'least', { minReplicas: 1, maxReplicas: 3 }),
      );
      await waitFor('HPA', () => admin.request('GET', paths.hpa(ns, 'least-predictor')));
      // Events go through events.k8s.io/v1 with only create and patch granted.
      await waitFor('a RuntimeSelected Event written by the service account', async () => {
        const list = await admin.request<{ items: { reason?: string }[] }>(
          'GET',
          `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
        );
        return list.items.some((e) => e.reason === 'RuntimeSelected');
      });
      await waitFor('status', async () =>
        condition(await admin.request<KubeObject>('GET', paths.isvc(ns, 'least')), 'Ready'),
      );
      await admin.request('PATCH', paths.isvc(ns, 'least'), {
        contentType: PATCH.merge,
        body: { spec: { predictor: { maxReplicas: 1 } } },
      });
      await waitFor('HPA deleted', async () => {
        try {
          await admin.request('GET', paths.hpa(ns, 'least-predictor'));
          return false;
        } catch (err) {
          return isNotFound(err);
        }
      });
      assert.deepEqual(forbidden, []);
    } finally {
      await operator.stop();
    }
  });

  it('can run leader election in its own namespace', async () => {
    let leading = false;
    const elector = new LeaderElector(sa, {
      namespace: ns,
      leaseName: 'tessera-operator-leader',
      identity: 'rbac-test',
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
      onStartedLeading: () => (leading = true),
      onStoppedLeading: () => undefined,
      logger: pino({ level: 'silent' }),
    });
    elector.start();
    await waitFor('leadership', () => leading, 10_000);
    await elector.stop();
  });

  it('is denied what it does not need: Secrets, deleting Deployments, writing Pods', async () => {
    for (const [method, path] of [
      ['GET', `/api/v1/namespaces/${ns}/secrets`],
      ['DELETE', paths.deployment(ns, 'least-predictor')],
      ['DELETE', `/api/v1/namespaces/${ns}/pods/any`],
      ['POST', `/api/v1/namespaces/${ns}/pods`],
      ['GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`],
    ] as const) {
      await assert.rejects(
        sa.request(method, path),
        (err) => err instanceof KubeApiError && err.statusCode === 403,
        `${method} ${path}`,
      );
    }
  });
});
