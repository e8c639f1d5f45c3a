import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

/** How to reach and authenticate to the API server. */
export interface Connection {
  readonly server: URL;
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly insecureSkipTlsVerify: boolean;
  /** Returns the bearer token, if any; re-read on each call so rotated tokens are picked up. */
  readonly token: () => string | undefined;
}

const kubeconfigSchema = z.object({
  'current-context': z.string(),
  contexts: z.array(
    z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string() }) }),
  ),
  clusters: z.array(
    z.object({
      name: z.string(),
      cluster: z.object({
        server: z.string(),
        'certificate-authority-data': z.string().optional(),
        'certificate-authority': z.string().optional(),
        'insecure-skip-tls-verify': z.boolean().optional(),
      }),
    }),
  ),
  users: z.array(
    z.object({
      name: z.string(),
      user: z.looseObject({
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        'client-certificate-data': z.string().optional(),
        'client-certificate': z.string().optional(),
        'client-key-data': z.string().optional(),
        'client-key': z.string().optional(),
      }),
    }),
  ),
});

function material(data: string | undefined, file: string | undefined): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  if (file !== undefined) return readFileSync(file);
  return undefined;
}

/**
 * Reads a kubeconfig file (YAML or JSON) and resolves its current context. Supports tokens,
 * token files, client certificates and CA bundles, inline or as files; exec and auth-provider
 * plugins are not supported (the operator runs in-cluster or with a static credential).
 */
export function connectionFromKubeconfig(path: string): Connection {
  const parsed = kubeconfigSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`invalid kubeconfig ${path}: ${parsed.error.message}`);
  const kc = parsed.data;
  const context = kc.contexts.find((c) => c.name === kc['current-context'])?.context;
  if (context === undefined)
    throw new Error(`kubeconfig ${path}: current context ${kc['current-context']} not found`);
  const cluster = kc.clusters.find((c) => c.name === context.cluster)?.cluster;
  const user = kc.users.find((u) => u.name === context.user)?.user;
  if (cluster === undefined || user === undefined) {
    throw new Error(
      `kubeconfig ${path}: cluster or user of context ${kc['current-context']} not found`,
    );
  }
  if (user['exec'] !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(`kubeconfig ${path}: exec and auth-provider credentials are not supported`);
  }
  const { token, tokenFile } = user;
  return {
    server: new URL(cluster.server),
    ca: material(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: material(user['client-certificate-data'], user['client-certificate']),
    key: material(user['client-key-data'], user['client-key']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] ?? false,
    token: () =>
      token ?? (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').trim()),
  };
}

/** Where a pod finds its service-account credential (Kubernetes "Accessing the API from a Pod"). */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The in-cluster connection: the API server address from the service env vars, the SA token. */
export function inClusterConnection(host: string, port: string): Connection {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: new URL(`https://${hostPart}:${port}`),
    ca: readFileSync(`${SA_DIR}/ca.crt`),
    insecureSkipTlsVerify: false,
    // Bound service-account tokens rotate; read the file on every request.
    token: () => readFileSync(`${SA_DIR}/token`, 'utf8').trim(),
  };
}
