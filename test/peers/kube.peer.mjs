// Test peer: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)
// and kubectl, built from the Go module proxy; the control plane is started once per test run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries } from '../cluster/build.mjs';
import { CONTROLLERS, startControlPlane } from '../cluster/control-plane.mjs';

/** Compiles Go: provisioned in the runner's Go lane, one build at a time (scripts/run-tests.mjs). */
export const provisionLane = 'go';

/** Builds or reuses the binaries. */
export async function provision(log) {
  const dir = await ensureBinaries(log);
  return { TESSERA_TEST_KUBE_BIN: dir, TESSERA_TEST_KUBECTL: join(dir, 'kubectl') };
}

/**
 * Starts the control plane; the tests read TESSERA_TEST_KUBECONFIG. Before each tier the runner
 * calls `tier(name)`, which gives kube-controller-manager that tier's controllers.
 */
export async function start(env, log) {
  const crdDir = join(import.meta.dirname, '../../crds');
  const yamlIn = (dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(dir, f));
  // KEDA's CRDs (keda.peer.mjs) too, before kube-controller-manager starts (see installCrds).
  const crdFiles = [
    ...yamlIn(crdDir),
    ...(env.TESSERA_KEDA_CRDS ? yamlIn(env.TESSERA_KEDA_CRDS) : []),
  ];
  const plane = await startControlPlane(env.TESSERA_TEST_KUBE_BIN, log, { crdFiles });
  return {
    env: { TESSERA_TEST_KUBECONFIG: plane.kubeconfig },
    stop: plane.stop,
    tier: (name) => plane.setControllers(CONTROLLERS[name] ?? CONTROLLERS.integration),
  };
}
