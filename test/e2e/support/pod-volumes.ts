// Volumes of a process pod: each becomes a folder on this machine, and a container sees it by
// having every argument and environment value that starts with a mountPath rewritten to that
// folder (no mount namespaces here). See test/e2e/README.md, "Volumes and paths".
import { mkdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { KubeClient, KubeObject } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import type { Container, Volume } from './pod-types.js';

/** A container cannot be created (kubelet reason `CreateContainerConfigError`). */
export class ContainerConfigError extends Error {}

/** Keys of a Secret (base64 `data`) or ConfigMap (`data`, `binaryData`) as bytes. */
export type KeyValues = Map<string, Buffer>;

/** Reads a Secret's or ConfigMap's keys; `undefined` when it does not exist. */
export async function readKeys(
  client: KubeClient,
  namespace: string,
  kind: 'secrets' | 'configmaps',
  name: string,
): Promise<KeyValues | undefined> {
  let obj: KubeObject;
  try {
    obj = await client.request<KubeObject>(
      'GET',
      `/api/v1/namespaces/${namespace}/${kind}/${name}`,
    );
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const keys: KeyValues = new Map();
  const data = (obj['data'] ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(data)) {
    keys.set(k, kind === 'secrets' ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  }
  for (const [k, v] of Object.entries((obj['binaryData'] ?? {}) as Record<string, string>)) {
    keys.set(k, Buffer.from(v, 'base64'));
  }
  return keys;
}

/** Where each of a pod's volumes lives on this machine. */
export interface PodVolumeFolders {
  readonly byName: ReadonlyMap<string, string>;
}

interface Projection {
  kind: 'secrets' | 'configmaps';
  name: string;
  optional: boolean;
  items: { key: string; path: string }[] | undefined;
}

function projection(volume: Volume): Projection | undefined {
  if (volume.secret !== undefined) {
    return {
      kind: 'secrets',
      name: volume.secret.secretName ?? '',
      optional: volume.secret.optional === true,
      items: volume.secret.items,
    };
  }
  if (volume.configMap !== undefined) {
    return {
      kind: 'configmaps',
      name: volume.configMap.name ?? '',
      optional: volume.configMap.optional === true,
      items: volume.configMap.items,
    };
  }
  return undefined;
}

/** Writes a Secret's or ConfigMap's keys (or the listed items) as files into `folder`. */
async function project(
  client: KubeClient,
  namespace: string,
  p: Projection,
  folder: string,
): Promise<void> {
  const keys = await readKeys(client, namespace, p.kind, p.name);
  if (keys === undefined) {
    if (p.optional) return;
    throw new ContainerConfigError(
      `${p.kind === 'secrets' ? 'secret' : 'configmap'} "${p.name}" not found`,
    );
  }
  const items = p.items ?? [...keys.keys()].map((key) => ({ key, path: key }));
  for (const { key, path } of items) {
    const value = keys.get(key);
    if (value === undefined) {
      if (p.optional) continue;
      throw new ContainerConfigError(
        `couldn't find key ${key} in ${p.kind} ${namespace}/${p.name}`,
      );
    }
    const file = join(folder, normalize(path).replace(/^(\.\.\/)+/, ''));
    await mkdir(dirname(file), { recursive: true });
    await writeAtomically(file, value);
  }
}

/**
 * Writes `value` to `file` only when it differs, by a rename so a reader never sees half of it
 * (the kubelet's atomic writer swaps a `..data` link for the same reason).
 */
async function writeAtomically(file: string, value: Buffer): Promise<void> {
  const current = await readFile(file).catch(() => undefined);
  if (current?.equals(value) === true) return;
  const temp = `${file}.${String(process.pid)}.tmp`;
  await writeFile(temp, value, { mode: 0o600 });
  await rename(temp, file);
}

/**
 * Re-projects a running pod's Secret and ConfigMap volumes, as the kubelet's periodic sync does
 * (a changed Secret reaches mounted files within about a minute there; here within one call).
 * A Secret that has gone or lost a key leaves the files as they were, as the kubelet does.
 */
export async function refreshProjectedVolumes(
  client: KubeClient,
  namespace: string,
  volumes: readonly Volume[],
  folders: PodVolumeFolders,
): Promise<void> {
  for (const volume of volumes) {
    const p = projection(volume);
    const folder = folders.byName.get(volume.name);
    if (p === undefined || folder === undefined) continue;
    await project(client, namespace, { ...p, optional: true }, folder);
  }
}

/**
 * Makes a folder for every volume of a pod: emptyDir, secret and configMap under `podDir`
 * (secret and configMap keys as files), a persistentVolumeClaim under `claimsDir/<namespace>/<claim>`
 * (kept across pods, like a bound volume), hostPath as the path itself.
 */
export async function prepareVolumes(
  client: KubeClient,
  namespace: string,
  volumes: readonly Volume[],
  podDir: string,
  claimsDir: string,
): Promise<PodVolumeFolders> {
  const byName = new Map<string, string>();
  for (const volume of volumes) {
    let folder: string;
    const p = projection(volume);
    if (volume.emptyDir !== undefined || p !== undefined) {
      folder = join(podDir, 'volumes', volume.name);
      await mkdir(folder, { recursive: true });
      if (p !== undefined) await project(client, namespace, p, folder);
    } else if (volume.persistentVolumeClaim !== undefined) {
      folder = join(claimsDir, namespace, volume.persistentVolumeClaim.claimName);
      await mkdir(folder, { recursive: true });
    } else if (volume.hostPath !== undefined) {
      folder = volume.hostPath.path;
    } else {
      throw new ContainerConfigError(
        `volume "${volume.name}": only emptyDir, secret, configMap, persistentVolumeClaim and hostPath are supported by the process kubelet`,
      );
    }
    byName.set(volume.name, folder);
  }
  return { byName };
}

/** Rewrites values that start with one of a container's mountPaths to that volume's folder. */
export type PathRewriter = (value: string) => string;

/** The rewriter for one container's volumeMounts (the longest mountPath wins). */
export function pathRewriter(container: Container, folders: PodVolumeFolders): PathRewriter {
  const mounts = (container.volumeMounts ?? []).map((m) => {
    const folder = folders.byName.get(m.name);
    if (folder === undefined) {
      throw new ContainerConfigError(`volumeMount "${m.name}" names no volume of the pod`);
    }
    const mountPath = m.mountPath.replace(/\/+$/, '');
    if (m.subPath === undefined || m.subPath === '') return { mountPath, folder };
    const sub = join(folder, normalize(m.subPath).replace(/^(\.\.\/)+/, ''));
    mkdirSync(sub, { recursive: true });
    return { mountPath, folder: sub };
  });
  mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
  return (value) => {
    for (const { mountPath, folder } of mounts) {
      if (value === mountPath || value.startsWith(`${mountPath}/`)) {
        return folder + value.slice(mountPath.length);
      }
    }
    return value;
  };
}
