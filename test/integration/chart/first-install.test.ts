// The chart's default path on a cluster that has never seen Tessera: a control plane of its own
// with no CRDs (the test run's shared one has them). `helm install` creates the CRDs and, through
// the post-install hook, the default runtimes (Helm cannot build custom resources of a CRD the
// same release creates); `helm upgrade` adopts those runtimes without recreating them (pool
// shards are owned by their uid); `helm uninstall` with crds.keep=false leaves nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KubeConfigClient } from '../../../operator/src/kube/kube-config-client.js';
import { kubeConfigFromFile } from '../../../operator/src/kube/kubeconfig.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { CHART, CHART_RUNTIMES, helmAt, ok } from './helm.js';

interface Plane {
  kubeconfig: string;
  stop(): Promise<void>;
}

const RUNTIMES = '/apis/serving.tessera.io/v1alpha1/clusterservingruntimes';
const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const NAMES = CHART_RUNTIMES;

describe('a first helm install on a cluster without the CRDs', { timeout: 600_000 }, () => {
  let plane: Plane;
  let client: KubeConfigClient;
  const helm = (...args: string[]) => helmAt(plane.kubeconfig, ...args);
  const args = ['--namespace', 'tessera-system', '--set', 'crds.keep=false'];

  before(async () => {
    const bin = process.env['TESSERA_TEST_KUBE_BIN'];
    if (bin === undefined)
      throw new Error('TESSERA_TEST_KUBE_BIN is not set: run through scripts/run-tests.mjs');
    // test/cluster is plain ESM without types (as bench/operator/control-plane.ts imports it).
    const { startControlPlane } = (await import(
      join(import.meta.dirname, '../../cluster/control-plane.mjs')
    )) as {
      startControlPlane: (
        bin: string,
        log: (m: string) => void,
        o: { crdFiles: string[] },
      ) => Promise<Plane>;
    };
    plane = await startControlPlane(bin, () => undefined, { crdFiles: [] });
    client = new KubeConfigClient(kubeConfigFromFile(plane.kubeconfig));
  });

  after(async () => {
    client.close();
    await plane.stop();
  });

  it('installs CRDs and runtimes, upgrade adopts the runtimes in place, uninstall removes all', async () => {
    ok(await helm('install', 'tessera', CHART, '--create-namespace', ...args), 'helm install');
    const installed = await client.request<{ items: KubeObject[] }>('GET', RUNTIMES);
    assert.deepEqual(installed.items.map((r) => r.metadata?.name).sort(), [...NAMES].sort());
    const uids = new Map(installed.items.map((r) => [r.metadata?.name, r.metadata?.uid]));
    const hooks = ok(
      await helm('get', 'hooks', 'tessera', '--namespace', 'tessera-system'),
      'helm get hooks',
    );
    assert.equal(
      (hooks.stdout.match(/^kind: ClusterServingRuntime$/gm) ?? []).length,
      NAMES.length,
    );

    ok(await helm('upgrade', 'tessera', CHART, ...args), 'helm upgrade');
    const manifest = ok(
      await helm('get', 'manifest', 'tessera', '--namespace', 'tessera-system'),
      'helm get manifest',
    );
    assert.equal(
      (manifest.stdout.match(/^kind: ClusterServingRuntime$/gm) ?? []).length,
      NAMES.length,
    );
    const upgraded = await client.request<{ items: KubeObject[] }>('GET', RUNTIMES);
    for (const r of upgraded.items)
      assert.equal(
        r.metadata?.uid,
        uids.get(r.metadata?.name),
        `${String(r.metadata?.name)} kept its uid`,
      );

    ok(
      await helm('uninstall', 'tessera', '--namespace', 'tessera-system', '--wait'),
      'helm uninstall',
    );
    for (const path of [
      `${CRD}/inferenceservices.serving.tessera.io`,
      `${CRD}/servingruntimes.serving.tessera.io`,
      `${CRD}/clusterservingruntimes.serving.tessera.io`,
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/tessera-operator',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/tessera-operator',
      '/apis/apps/v1/namespaces/tessera-system/deployments/tessera-operator',
    ]) {
      await assert.rejects(client.request('GET', path), (err) => isNotFound(err), path);
    }
  });
});
