// The control plane a benchmark runs against: the one the test runner started
// (TESSERA_TEST_KUBECONFIG), else a fresh one from test/cluster with the CRDs installed.
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/** A running control plane; `stop` ends it if this process started it. */
export interface ControlPlane {
  kubeconfig: string;
  stop(): Promise<void>;
}

/**
 * Reuses the test runner's control plane or starts one (test/cluster, plain ESM without types).
 * `tier` picks kube-controller-manager's controllers: 'e2e' adds the Deployment controller, for
 * benchmarks that run pods on the process kubelet.
 */
export async function controlPlane(
  tier: 'integration' | 'e2e' = 'integration',
): Promise<ControlPlane> {
  const existing = process.env['TESSERA_TEST_KUBECONFIG'];
  if (existing !== undefined && existing !== '')
    return { kubeconfig: existing, stop: () => Promise.resolve() };
  const { ensureBinaries } = (await import(join(ROOT, 'test/cluster/build.mjs'))) as {
    ensureBinaries: (log: (m: string) => void) => Promise<string>;
  };
  const { startControlPlane, CONTROLLERS } = (await import(
    join(ROOT, 'test/cluster/control-plane.mjs')
  )) as {
    startControlPlane: (
      bin: string,
      log: (m: string) => void,
      o: { crdFiles: string[]; controllers: string[] },
    ) => Promise<ControlPlane>;
    CONTROLLERS: Record<'integration' | 'e2e', string[]>;
  };
  const bin = await ensureBinaries(console.log);
  const crdFiles = ['inferenceservices', 'servingruntimes', 'clusterservingruntimes'].map((p) =>
    join(ROOT, `crds/serving.tessera.io_${p}.yaml`),
  );
  return startControlPlane(bin, console.log, { crdFiles, controllers: CONTROLLERS[tier] });
}
