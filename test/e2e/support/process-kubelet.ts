// A kubelet for the e2e tier that runs pods as local processes (README.md next to this folder).
// It registers a Node, keeps its Lease fresh, binds the pending pods of the namespaces it is given
// (no scheduler runs) and runs each bound pod through a PodWorker.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SERVER_ARGS } from '@tessera/contract';
import { PATCH, type KubeClient } from '../../../operator/src/kube/client.js';
import { errorMessage, isConflict, isNotFound } from '../../../operator/src/kube/errors.js';
import { Informer } from '../../../operator/src/controller/informer.js';
import { testLogger } from '../../integration/operator/cluster.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { dockerStage, stageEnv } from '../../integration/packaging/dockerfile.js';
import { mlserverPython } from '../../support/mlserver-peer.js';
import { LoopbackPool } from './loopback-pool.js';
import { PodWorker, type ImageRule, type KubeletSettings } from './pod-worker.js';
import { kubeTime, microTime, type Node, type Pod } from './pod-types.js';

/** The repository part of an image reference (no tag, no digest). */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] ?? '';
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * Tessera's server image (Dockerfile.server: ENTRYPOINT `node server/dist/cli.js`, CMD
 * `start /mnt/models`, WORKDIR the repository) as this checkout's built server.
 */
export function serverImageRule(repositorySuffix = 'tessera/server'): ImageRule {
  return {
    matches: (image) => imageRepository(image).endsWith(repositorySuffix),
    entrypoint: [process.execPath, join(REPO_ROOT, 'server', 'dist', 'cli.js')],
    defaultArgs: [...SERVER_ARGS],
    workdir: REPO_ROOT,
  };
}

/**
 * Tessera's Python server image (Dockerfile.server `--target python`: the server's ENTRYPOINT and
 * CMD, with CPython and mlserver in /opt/tessera-python) as this checkout's built server with the
 * image's ENV, its virtualenv being the mlserver peer's (built from the same requirements file,
 * test/integration/packaging/python-image.test.ts).
 */
export function serverPythonImageRule(): ImageRule {
  const env = stageEnv(dockerStage('Dockerfile.server', 'python'));
  return {
    ...serverImageRule('tessera/server-python'),
    env: { ...env, TESSERA_PYTHON_EXECUTABLE: mlserverPython() },
  };
}

/** Options of {@link ProcessKubelet.start}. */
export interface ProcessKubeletOptions {
  /** Only pods of these namespaces are bound and run; others stay pending. */
  readonly namespaces: readonly string[];
  /** Node name (default `e2e-node-<random>`). */
  readonly nodeName?: string;
  readonly images?: readonly ImageRule[];
  readonly probeTimeScale?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Lease renewal period (kubelet: 10 s). */
  readonly leaseRenewMs?: number;
}

const HOST_IP = '127.0.0.1';

/** Runs the pods of some namespaces as local processes on one registered Node. */
export class ProcessKubelet {
  private readonly workers = new Map<string, PodWorker>();
  private readonly finished: PodWorker[] = [];
  private readonly binding = new Set<string>();
  private readonly informers: Informer[] = [];
  private readonly pool = new LoopbackPool();
  private readonly root = mkdtempSync(join(tmpdir(), 'tessera-kubelet-'));
  private readonly settings: KubeletSettings;
  private leaseTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly registeredAt = kubeTime();
  private readonly killAll = (): void => {
    for (const w of this.workers.values()) w.killNow();
  };
  // Containers run in process groups of their own, so a Ctrl-C of the test run does not reach
  // them: exit on the signal, and the exit hook kills them (as test/cluster/control-plane.mjs).
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  private constructor(
    private readonly client: KubeClient,
    readonly nodeName: string,
    private readonly options: ProcessKubeletOptions,
  ) {
    this.settings = {
      images: options.images ?? [serverImageRule()],
      probeTimeScale: options.probeTimeScale ?? 1,
      backoffBaseMs: options.backoffBaseMs ?? 10_000,
      backoffMaxMs: options.backoffMaxMs ?? 40_000,
      retryMs: 1000,
      volumeSyncMs: 2000,
    };
  }

  /** Registers the Node and its Lease, then starts binding and running pods. */
  static async start(client: KubeClient, options: ProcessKubeletOptions): Promise<ProcessKubelet> {
    const name = options.nodeName ?? `e2e-node-${randomBytes(3).toString('hex')}`;
    const kubelet = new ProcessKubelet(client, name, options);
    try {
      await kubelet.register();
      for (const ns of options.namespaces) kubelet.watch(ns);
      await Promise.all(kubelet.informers.map((i) => i.waitForSync()));
    } catch (err) {
      await kubelet.stop();
      throw err;
    }
    // If the test runner exits without stop(), no container process may outlive it.
    process.once('exit', kubelet.killAll);
    process.once('SIGINT', kubelet.onSignal);
    process.once('SIGTERM', kubelet.onSignal);
    return kubelet;
  }

  /** The folder that backs PersistentVolumeClaim `claim` of `namespace` (fill it before use). */
  claimDir(namespace: string, claim: string): string {
    return join(this.root, 'claims', namespace, claim);
  }

  /** Every container's output, current and finished pods, for a failed test's diagnostics. */
  dumpLogs(filter: (podKey: string) => boolean = () => true): string {
    const out: string[] = [];
    for (const w of [...this.finished, ...this.workers.values()]) {
      if (!filter(w.key)) continue;
      for (const { container, text } of w.logs())
        out.push(`==> ${w.key}/${container} <==\n${text.slice(-8000)}`);
    }
    return out.join('\n');
  }

  /** The output of one container of a pod (all its runs). */
  logs(namespace: string, pod: string, container: string): string {
    const w = [...this.workers.values(), ...this.finished]
      .reverse()
      .find((x) => x.key === `${namespace}/${pod}`);
    return w?.logs().find((l) => l.container === container)?.text ?? '';
  }

  /**
   * Stops every container (SIGTERM, SIGKILL after `graceMs`), deletes this node's pods with
   * gracePeriodSeconds=0 so their namespaces can go, then the Lease and the Node.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.leaseTimer);
    await Promise.all(this.informers.map((i) => i.stop()));
    await Promise.all([...this.workers.values()].map((w) => w.terminate(graceMs)));
    process.removeListener('exit', this.killAll);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    const ignoreMissing = (err: unknown): void => {
      if (!isNotFound(err)) throw err;
    };
    try {
      await this.client
        .request(
          'DELETE',
          `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.nodeName}`,
        )
        .catch(ignoreMissing);
      await this.client.request('DELETE', `/api/v1/nodes/${this.nodeName}`).catch(ignoreMissing);
    } finally {
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  private async register(): Promise<void> {
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.nodeName,
        labels: {
          'kubernetes.io/hostname': this.nodeName,
          'kubernetes.io/os': 'linux',
          'tessera.io/process-kubelet': 'true',
        },
      },
      status: {
        capacity: this.capacity(),
        allocatable: this.capacity(),
        addresses: [
          { type: 'InternalIP', address: HOST_IP },
          { type: 'Hostname', address: this.nodeName },
        ],
        conditions: this.conditions(kubeTime()),
        nodeInfo: {
          architecture: process.arch,
          bootID: '',
          containerRuntimeVersion: 'process://node',
          kernelVersion: '',
          kubeProxyVersion: '',
          kubeletVersion: 'v0.0.0-process',
          machineID: '',
          operatingSystem: 'linux',
          osImage: 'tessera e2e process kubelet',
          systemUUID: '',
        },
      },
    };
    const created = await this.client.request<Node>('POST', '/api/v1/nodes', { body: node });
    await this.client.request(
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
      {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.nodeName,
            ownerReferences: [
              {
                apiVersion: 'v1',
                kind: 'Node',
                name: this.nodeName,
                uid: created.metadata?.uid ?? '',
              },
            ],
          },
          spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime: microTime() },
        },
      },
    );
    this.leaseTimer = setInterval(() => void this.heartbeat(), this.options.leaseRenewMs ?? 10_000);
    this.leaseTimer.unref();
  }

  private capacity(): Record<string, string> {
    return {
      cpu: String(availableParallelism()),
      memory: `${Math.floor(totalmem() / 1024)}Ki`,
      pods: '110',
    };
  }

  private conditions(now: string): NonNullable<NonNullable<Node['status']>['conditions']> {
    const condition = (
      type: string,
      status: string,
      reason: string,
    ): {
      type: string;
      status: string;
      reason: string;
      message: string;
      lastHeartbeatTime: string;
      lastTransitionTime: string;
    } => ({
      type,
      status,
      reason,
      message: `process kubelet: ${reason}`,
      lastHeartbeatTime: now,
      lastTransitionTime: this.registeredAt,
    });
    return [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      condition('Ready', 'True', 'KubeletReady'),
    ];
  }

  /** Renews the Lease (what node-lifecycle reads) on every beat; the Node status too. */
  private async heartbeat(): Promise<void> {
    try {
      const now = new Date();
      await this.client.request(
        'PATCH',
        `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.nodeName}`,
        {
          contentType: PATCH.merge,
          body: { spec: { renewTime: microTime(now) } },
        },
      );
      await this.client.request('PATCH', `/api/v1/nodes/${this.nodeName}/status`, {
        contentType: PATCH.merge,
        body: { status: { conditions: this.conditions(kubeTime(now)) } },
      });
    } catch (err) {
      if (!this.stopped) testLogger().warn(`heartbeat failed: ${errorMessage(err)}`);
    }
  }

  private watch(namespace: string): void {
    const informer = new Informer(this.client, {
      path: `/api/v1/namespaces/${namespace}/pods`,
      resyncMs: 0,
      backoffBaseMs: 200,
      backoffMaxMs: 2000,
      logger: testLogger(),
      onEvent: (type, obj) => {
        if (this.stopped) return;
        const pod = obj as Pod;
        if (type === 'delete') this.podGone(pod);
        else this.podSeen(pod);
      },
    });
    informer.start();
    this.informers.push(informer);
  }

  private podSeen(pod: Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const nodeName = pod.spec?.nodeName;
    if (nodeName === undefined || nodeName === '') {
      if (pod.metadata?.deletionTimestamp === undefined) void this.bind(pod);
      return;
    }
    if (nodeName !== this.nodeName) return;
    const worker = this.workers.get(uid);
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const created = new PodWorker(
      {
        client: this.client,
        hostIP: HOST_IP,
        pool: this.pool,
        root: this.root,
        settings: this.settings,
        log: (m) => {
          testLogger().warn(m);
        },
      },
      pod,
    );
    this.workers.set(uid, created);
    if (pod.metadata?.deletionTimestamp !== undefined) void this.retire(uid, created.terminate(0));
    else created.start();
  }

  private podGone(pod: Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const worker = this.workers.get(uid);
    if (worker !== undefined) void this.retire(uid, worker.vanished());
  }

  private async retire(uid: string, done: Promise<void>): Promise<void> {
    await done;
    const worker = this.workers.get(uid);
    if (worker === undefined) return;
    this.workers.delete(uid);
    this.finished.push(worker);
  }

  /** What the scheduler would do: POST pods/binding to this node. */
  private async bind(pod: Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    if (this.binding.has(uid)) return;
    this.binding.add(uid);
    const { namespace = '', name = '' } = pod.metadata ?? {};
    try {
      await this.client.request('POST', `/api/v1/namespaces/${namespace}/pods/${name}/binding`, {
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, uid },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
        },
      });
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err))
        testLogger().warn(`binding ${namespace}/${name}: ${errorMessage(err)}`);
    }
  }
}
