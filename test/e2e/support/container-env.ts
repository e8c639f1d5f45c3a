// The environment of a process container: the container's env and envFrom resolved the way a
// kubelet resolves them (Secret and ConfigMap keys, the downward API, `$(VAR)` references),
// then the pod-network simulation on top (test/e2e/README.md, "Network").
import { ADMIN_PORT, ENV, adminUrl } from '@tessera/contract';
import type { KubeClient } from '../../../operator/src/kube/client.js';
import {
  ContainerConfigError,
  readKeys,
  type KeyValues,
  type PathRewriter,
} from './pod-volumes.js';
import type { Container, Pod } from './pod-types.js';

type EnvVar = NonNullable<Container['env']>[number];

/**
 * Expands `$(NAME)` with variables defined earlier; `$$(NAME)` stays literal and unknown names
 * are left as they are (Kubernetes "Define Dependent Environment Variables").
 */
export function expandReferences(value: string, env: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === '$$') return '$';
    return name !== undefined && env.has(name) ? env.get(name)! : match;
  });
}

/** The downward API fields a fieldRef may name (the subset tests need). */
function fieldValue(pod: Pod, podIP: string, hostIP: string, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const fields: Record<string, string | undefined> = {
    'metadata.name': meta.name,
    'metadata.namespace': meta.namespace,
    'metadata.uid': meta.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': podIP,
    'status.podIPs': podIP,
    'status.hostIP': hostIP,
    'status.hostIPs': hostIP,
  };
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (label !== null) {
    return (label[1] === 'labels' ? meta.labels : meta.annotations)?.[label[2]!] ?? '';
  }
  const value = fields[fieldPath];
  if (value === undefined) {
    throw new ContainerConfigError(`unsupported fieldRef fieldPath "${fieldPath}"`);
  }
  return value;
}

/** What resolving one container's environment needs. */
export interface EnvContext {
  readonly client: KubeClient;
  readonly pod: Pod;
  readonly podIP: string;
  readonly hostIP: string;
  readonly rewrite: PathRewriter;
}

class KeyCache {
  private readonly cache = new Map<string, KeyValues | undefined>();
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}
  async get(kind: 'secrets' | 'configmaps', name: string): Promise<KeyValues | undefined> {
    const id = `${kind}/${name}`;
    if (!this.cache.has(id))
      this.cache.set(id, await readKeys(this.client, this.namespace, kind, name));
    return this.cache.get(id);
  }
}

async function keyRef(
  keys: KeyCache,
  kind: 'secrets' | 'configmaps',
  ref: { name?: string; key: string; optional?: boolean },
): Promise<string | undefined> {
  const what = kind === 'secrets' ? 'secret' : 'configmap';
  const values = await keys.get(kind, ref.name ?? '');
  if (values === undefined) {
    if (ref.optional === true) return undefined;
    throw new ContainerConfigError(`${what} "${ref.name ?? ''}" not found`);
  }
  const value = values.get(ref.key);
  if (value === undefined && ref.optional !== true) {
    throw new ContainerConfigError(`couldn't find key ${ref.key} in ${what} ${ref.name ?? ''}`);
  }
  return value?.toString('utf8');
}

async function resolveOne(
  v: EnvVar,
  ctx: EnvContext,
  keys: KeyCache,
  env: ReadonlyMap<string, string>,
): Promise<string | undefined> {
  const from = v.valueFrom;
  if (from === undefined) return expandReferences(v.value ?? '', env);
  if (from.secretKeyRef !== undefined) return keyRef(keys, 'secrets', from.secretKeyRef);
  if (from.configMapKeyRef !== undefined) return keyRef(keys, 'configmaps', from.configMapKeyRef);
  if (from.fieldRef !== undefined) {
    return fieldValue(ctx.pod, ctx.podIP, ctx.hostIP, from.fieldRef.fieldPath);
  }
  throw new ContainerConfigError(
    `env ${v.name}: only value, secretKeyRef, configMapKeyRef and fieldRef are supported`,
  );
}

/**
 * The container's environment. envFrom comes first and env overrides it, as in a kubelet. Then
 * the simulated network namespace: the pod's loopback is its own address here, so every bind
 * address of the pod contract is the pod IP, whatever the spec says. Values that start with a
 * mountPath are rewritten to the volume's folder.
 */
export async function containerEnv(
  container: Container,
  ctx: EnvContext,
): Promise<Record<string, string>> {
  const keys = new KeyCache(ctx.client, ctx.pod.metadata?.namespace ?? '');
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const kind = source.secretRef !== undefined ? 'secrets' : 'configmaps';
    const ref = source.secretRef ?? source.configMapRef;
    const values = await keys.get(kind, ref?.name ?? '');
    if (values === undefined) {
      if (ref?.optional === true) continue;
      throw new ContainerConfigError(
        `${kind === 'secrets' ? 'secret' : 'configmap'} "${ref?.name ?? ''}" not found`,
      );
    }
    for (const [k, value] of values) env.set(`${source.prefix ?? ''}${k}`, value.toString('utf8'));
  }
  for (const v of container.env ?? []) {
    const value = await resolveOne(v, ctx, keys, env);
    if (value !== undefined) env.set(v.name, value);
  }
  env.set(ENV.host, ctx.podIP);
  env.set(ENV.adminHost, ctx.podIP);
  env.set(ENV.agentHost, ctx.podIP);
  env.set(ENV.agentServerUrl, adminUrl(ctx.podIP, ADMIN_PORT));
  return Object.fromEntries([...env].map(([k, v]) => [k, ctx.rewrite(v)]));
}
