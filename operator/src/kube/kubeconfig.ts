import { KubeConfig } from '@kubernetes/client-node';

/** Where a pod finds its service-account credential (Kubernetes "Accessing the API from a Pod"). */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Loads a kubeconfig file (YAML or JSON) with @kubernetes/client-node: static tokens, token
 * files, client certificates, CA bundles, `exec` credential plugins and `auth-provider`s.
 */
export function kubeConfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new Error(
      `invalid kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (kc.getCurrentCluster() === null || kc.getCurrentUser() === null) {
    throw new Error(
      `kubeconfig ${path}: the current context "${kc.getCurrentContext()}" has no cluster or user`,
    );
  }
  return kc;
}

/**
 * The in-cluster configuration, as client-node's `loadFromCluster` builds it, but from the
 * host and port that config.ts parsed (the only reader of the environment). The token file is
 * re-read by the library every minute, so rotated bound tokens are picked up.
 */
export function inClusterKubeConfig(host: string, port: string): KubeConfig {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: 'inCluster',
      server: `https://${hostPart}:${port}`,
      caFile: `${SA_DIR}/ca.crt`,
      skipTLSVerify: false,
    },
    {
      name: 'inClusterUser',
      authProvider: { name: 'tokenFile', config: { tokenFile: `${SA_DIR}/token` } },
    },
  );
  return kc;
}
