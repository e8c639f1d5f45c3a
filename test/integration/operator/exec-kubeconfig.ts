// A kubeconfig whose user is an `exec` credential plugin (client.authentication.k8s.io/v1), as
// EKS's `aws eks get-token`, GKE's gke-gcloud-auth-plugin or kubelogin are: a small Node script
// that prints an ExecCredential with a bearer token and counts its own runs.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigPath } from './cluster.js';

const PLUGIN = `import { appendFileSync, readFileSync } from 'node:fs';
appendFileSync(process.env.COUNT_FILE, 'run\\n');
const status = { token: readFileSync(process.env.TOKEN_FILE, 'utf8').trim() };
// Already expired: the client must run the plugin again for every request.
if (process.env.EXPIRED === '1') status.expirationTimestamp = new Date(Date.now() - 60000).toISOString();
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }));
`;

/** Paths of an exec-credential kubeconfig and its plugin's run counter. */
export interface ExecKubeconfig {
  readonly path: string;
  /** How many times the plugin has run. */
  runs(): number;
}

/**
 * Writes a kubeconfig for the test control plane whose credential comes from an exec plugin
 * returning `token` (the admin token when omitted); `expired` makes every credential stale.
 */
export function execKubeconfig(token?: string, expired = false): ExecKubeconfig {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-exec-'));
  const admin = JSON.parse(readFileSync(kubeconfigPath(), 'utf8')) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
    users: { user: { token: string } }[];
  };
  const tokenFile = join(dir, 'token');
  const countFile = join(dir, 'runs');
  writeFileSync(tokenFile, token ?? admin.users[0]?.user.token ?? '', { mode: 0o600 });
  writeFileSync(countFile, '');
  writeFileSync(join(dir, 'plugin.mjs'), PLUGIN);
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: admin.clusters,
      users: [
        {
          name: 'exec-user',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: process.execPath,
              args: [join(dir, 'plugin.mjs')],
              env: [
                { name: 'TOKEN_FILE', value: tokenFile },
                { name: 'COUNT_FILE', value: countFile },
                { name: 'EXPIRED', value: expired ? '1' : '0' },
              ],
              interactiveMode: 'Never',
              provideClusterInfo: false,
            },
          },
        },
      ],
      contexts: [
        { name: 'exec', context: { cluster: admin.clusters[0]?.name ?? '', user: 'exec-user' } },
      ],
      'current-context': 'exec',
    }),
    { mode: 0o600 },
  );
  return {
    path,
    runs: () =>
      readFileSync(countFile, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length,
  };
}
