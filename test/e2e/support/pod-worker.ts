// One pod on the process kubelet: its IP, volumes, container processes, probes, restarts,
// status and deletion, as pkg/kubelet's pod workers do it for real containers.
import { constants } from 'node:os';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_PORT } from '@tessera/contract';
import { PATCH, type KubeClient } from '../../../operator/src/kube/client.js';
import { errorMessage, isConflict, isNotFound } from '../../../operator/src/kube/errors.js';
import { containerEnv, expandReferences } from './container-env.js';
import { ContainerProcess, LogTail, type ContainerExit } from './container-process.js';
import type { LoopbackPool } from './loopback-pool.js';
import {
  ContainerConfigError,
  pathRewriter,
  prepareVolumes,
  refreshProjectedVolumes,
  type PodVolumeFolders,
} from './pod-volumes.js';
import { podConditions, podPhase, type ContainerView } from './pod-status.js';
import {
  kubeTime,
  podKey,
  type Container,
  type ContainerState,
  type ContainerStatus,
  type Pod,
  type PodCondition,
  type WrittenPodStatus,
} from './pod-types.js';
import { ProbeWorker } from './probes.js';

/** How a container image becomes a local command (README, "Images"). */
export interface ImageRule {
  /** Whether this rule runs `image`. */
  readonly matches: (image: string) => boolean;
  /** The image's ENTRYPOINT as local argv (e.g. this Node binary and server/dist/cli.js). */
  readonly entrypoint: readonly string[];
  /** The image's CMD, used when the container has no args. */
  readonly defaultArgs: readonly string[];
  /** The image's WORKDIR on this machine (relative paths in a command resolve against it). */
  readonly workdir: string;
  /** The image's ENV (paths mapped onto this machine); the container's env overrides it. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Harness settings shared by every pod of one kubelet. */
export interface KubeletSettings {
  readonly images: readonly ImageRule[];
  /** Multiplies probe periods and initial delays (1 = as the spec says). */
  readonly probeTimeScale: number;
  /** Crash-loop back-off: 0 for the first restart, then base × 2^(n-1), capped at max. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** How often a container that cannot be created yet (missing Secret) is tried again. */
  readonly retryMs: number;
  /** How often Secret and ConfigMap volumes are re-projected (the kubelet's sync period). */
  readonly volumeSyncMs: number;
}

/** What a pod worker needs from its kubelet. */
export interface KubeletContext {
  readonly client: KubeClient;
  readonly hostIP: string;
  readonly pool: LoopbackPool;
  /** Where pod folders and claim folders live. */
  readonly root: string;
  readonly settings: KubeletSettings;
  readonly log: (message: string) => void;
}

function signalExitCode(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : 128 + (constants.signals[signal] ?? 0);
}

/** One container of the pod across its restarts. */
class ContainerRun {
  restartCount = 0;
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState = {};
  ready = false;
  started = false;
  process: ContainerProcess | undefined;
  probes: ProbeWorker[] = [];
  backoffExp = 0;
  timer: NodeJS.Timeout | undefined;
  readonly log = new LogTail();

  constructor(readonly spec: Container) {}

  status(): ContainerStatus {
    const pid = this.process?.pid;
    return {
      name: this.spec.name,
      image: this.spec.image ?? '',
      imageID: '',
      ...(pid === undefined ? {} : { containerID: `process://${pid}` }),
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
      state: this.state,
      lastState: this.lastState,
    };
  }

  stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }
}

/** Runs one pod until it is deleted or its kubelet stops. */
export class PodWorker {
  podIP: string | undefined;
  private pod: Pod;
  private readonly runs: ContainerRun[];
  private readonly startTime = kubeTime();
  private readonly podDir: string;
  private conditions: PodCondition[];
  private folders: PodVolumeFolders | undefined;
  private volumeSync: NodeJS.Timeout | undefined;
  private terminating: Promise<void> | undefined;
  private lastWritten = '';
  private writing: Promise<void> | undefined;
  private dirty = false;
  private gone = false;

  constructor(
    private readonly ctx: KubeletContext,
    pod: Pod,
  ) {
    this.pod = pod;
    this.runs = (pod.spec?.containers ?? []).map((c) => new ContainerRun(c));
    this.conditions = pod.status?.conditions ?? [];
    const meta = pod.metadata ?? {};
    this.podDir = join(
      ctx.root,
      'pods',
      `${meta.namespace ?? ''}_${meta.name ?? ''}_${meta.uid ?? ''}`,
    );
  }

  /** `namespace/name`. */
  get key(): string {
    return podKey(this.pod);
  }

  /** Each container's output so far (all its runs). */
  logs(): { container: string; text: string }[] {
    return this.runs.map((r) => ({ container: r.spec.name, text: r.log.text() }));
  }

  /** Starts the pod's containers in the background. */
  start(): void {
    this.sync();
    this.setup().catch((err: unknown) => {
      this.ctx.log(`pod ${this.key}: ${errorMessage(err)}`);
    });
  }

  /** A newer version of the pod from the watch. */
  update(pod: Pod): void {
    this.pod = pod;
    // Conditions other writers own (readiness gates) are kept; the kubelet's own are recomputed.
    const theirs = (pod.status?.conditions ?? []).filter(
      (c) => !['Initialized', 'ContainersReady', 'Ready'].includes(c.type),
    );
    this.conditions = [
      ...theirs,
      ...this.conditions.filter((c) => !theirs.some((t) => t.type === c.type)),
    ];
    if (pod.metadata?.deletionTimestamp !== undefined) void this.terminate();
    else this.sync();
  }

  /**
   * Stops the containers (SIGTERM, then SIGKILL after the grace period) and confirms the
   * deletion with gracePeriodSeconds=0, as a kubelet does once its containers are gone.
   */
  terminate(graceMs?: number, deletePod = true): Promise<void> {
    this.terminating ??= this.shutdown(graceMs, deletePod);
    return this.terminating;
  }

  /** SIGKILLs every process group now, synchronously (for the test process's exit hook). */
  killNow(): void {
    for (const run of this.runs) run.process?.signal('SIGKILL');
  }

  /** The pod object is gone from the API: stop everything without writing to it again. */
  vanished(): Promise<void> {
    this.gone = true;
    return this.terminate(0, false);
  }

  private async setup(): Promise<void> {
    const spec = this.pod.spec!;
    if ((spec.initContainers ?? []).length > 0) {
      this.failAll(
        'CreateContainerConfigError',
        'init containers are not supported by the process kubelet',
      );
      return;
    }
    const ports = [
      ADMIN_PORT,
      ...this.runs.flatMap((r) => (r.spec.ports ?? []).map((p) => p.containerPort)),
    ];
    this.podIP = await this.ctx.pool.allocate(ports);
    this.sync();
    while (this.terminating === undefined) {
      try {
        this.folders = await prepareVolumes(
          this.ctx.client,
          this.pod.metadata?.namespace ?? '',
          spec.volumes ?? [],
          this.podDir,
          join(this.ctx.root, 'claims'),
        );
        break;
      } catch (err) {
        if (!(err instanceof ContainerConfigError)) throw err;
        this.failAll('CreateContainerConfigError', err.message);
        await new Promise((r) => setTimeout(r, this.ctx.settings.retryMs));
      }
    }
    for (const run of this.runs) void this.startContainer(run);
    this.scheduleVolumeSync();
  }

  /** Keeps Secret and ConfigMap volumes up to date while the pod runs. */
  private scheduleVolumeSync(): void {
    if (this.terminating !== undefined) return;
    this.volumeSync = setTimeout(() => {
      refreshProjectedVolumes(
        this.ctx.client,
        this.pod.metadata?.namespace ?? '',
        this.pod.spec?.volumes ?? [],
        this.folders!,
      )
        .catch((err: unknown) => {
          this.ctx.log(`pod ${this.key}: volume sync: ${errorMessage(err)}`);
        })
        .finally(() => {
          this.scheduleVolumeSync();
        });
    }, this.ctx.settings.volumeSyncMs);
  }

  private failAll(reason: string, message: string): void {
    for (const run of this.runs) run.state = { waiting: { reason, message } };
    this.sync();
  }

  /** How many leading argv entries are local program paths rather than container arguments. */
  private localPrefix(run: ContainerRun): number {
    const command = run.spec.command;
    if (command !== undefined && command.length > 0) return command.length;
    const rule = this.ctx.settings.images.find((r) => r.matches(run.spec.image ?? ''));
    return rule?.entrypoint.length ?? 1;
  }

  private command(run: ContainerRun): string[] | undefined {
    const image = run.spec.image ?? '';
    const rule = this.ctx.settings.images.find((r) => r.matches(image));
    if (rule === undefined) {
      run.state = {
        waiting: {
          reason: 'ErrImagePull',
          message: `the process kubelet runs only the images it maps to local programs (Tessera's server image); "${image}" is not one of them`,
        },
      };
      return undefined;
    }
    const args = run.spec.args ?? [...rule.defaultArgs];
    const command = run.spec.command;
    if (command === undefined || command.length === 0) return [...rule.entrypoint, ...args];
    if (command[0] !== 'node') {
      throw new ContainerConfigError(
        `command ${JSON.stringify(command)}: the process kubelet runs only \`node ...\` commands of the image`,
      );
    }
    return [
      process.execPath,
      ...command
        .slice(1)
        .map((a) => (a.startsWith('-') || a.startsWith('/') ? a : join(rule.workdir, a))),
      ...args,
    ];
  }

  private async startContainer(run: ContainerRun): Promise<void> {
    if (this.terminating !== undefined) return;
    const podIP = this.podIP!;
    let argv: string[] | undefined;
    let env: Record<string, string>;
    let workdir: string;
    try {
      argv = this.command(run);
      if (argv === undefined) {
        this.sync();
        return;
      }
      const rewrite = pathRewriter(run.spec, this.folders!);
      const ctxEnv = {
        client: this.ctx.client,
        pod: this.pod,
        podIP,
        hostIP: this.ctx.hostIP,
        rewrite,
      };
      const resolved = await containerEnv(run.spec, ctxEnv);
      const refs = new Map(Object.entries(resolved));
      // The program itself (the image's entrypoint or `node <file>`) is a path on this machine:
      // only the container's arguments are rewritten, or a repository under a mounted path such
      // as /tmp would be mistaken for a path inside the container.
      const local = this.localPrefix(run);
      argv = argv.map((a, i) => (i < local ? a : rewrite(expandReferences(a, refs))));
      const image = this.ctx.settings.images.find((r) => r.matches(run.spec.image ?? ''))!;
      // As a container runtime does: the image's ENV, then the container's env over it. Image
      // paths under a mount (HOME=/tmp on an emptyDir) land in the volume's folder.
      const imageEnv = Object.fromEntries(
        Object.entries(image.env ?? {}).map(([k, v]) => [k, rewrite(v)]),
      );
      env = {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: this.podDir,
        HOSTNAME: this.pod.metadata?.name ?? '',
        ...imageEnv,
        ...resolved,
      };
      workdir = image.workdir;
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      run.state = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      this.sync();
      run.timer = setTimeout(() => void this.startContainer(run), this.ctx.settings.retryMs);
      return;
    }
    if (this.terminating !== undefined) return;
    const proc = new ContainerProcess(argv, env, workdir, run.log);
    run.log.push(
      Buffer.from(
        `--- process kubelet: run ${run.restartCount} of ${run.spec.name} (pid ${String(proc.pid)}) ---\n`,
      ),
    );
    run.process = proc;
    run.state = { running: { startedAt: kubeTime(proc.startedAt) } };
    this.startProbes(run, podIP);
    this.sync();
    void proc.exited.then((exit) => {
      this.onExit(run, proc, exit);
    });
  }

  private startProbes(run: ContainerRun, podIP: string): void {
    const scale = this.ctx.settings.probeTimeScale;
    const { readinessProbe, livenessProbe, startupProbe } = run.spec;
    const afterStartup = (): void => {
      run.started = true;
      if (livenessProbe !== undefined) {
        run.probes.push(
          new ProbeWorker(livenessProbe, run.spec, podIP, scale, true, (ok) => {
            if (!ok) this.restartUnhealthy(run, 'liveness');
          }),
        );
      }
      if (readinessProbe !== undefined) {
        run.probes.push(
          new ProbeWorker(readinessProbe, run.spec, podIP, scale, false, (ok) => {
            run.ready = ok;
            this.sync();
          }),
        );
      } else run.ready = true;
      for (const p of run.probes) p.start();
      this.sync();
    };
    if (startupProbe === undefined) {
      afterStartup();
      return;
    }
    const startup = new ProbeWorker(startupProbe, run.spec, podIP, scale, false, (ok) => {
      if (!ok) {
        this.restartUnhealthy(run, 'startup');
        return;
      }
      startup.stop();
      afterStartup();
    });
    run.probes.push(startup);
    startup.start();
  }

  /** A failed liveness or startup probe: the kubelet kills the container; onExit restarts it. */
  private restartUnhealthy(run: ContainerRun, probe: string): void {
    run.log.push(
      Buffer.from(`--- process kubelet: ${probe} probe failed, killing ${run.spec.name} ---\n`),
    );
    run.stopProbes();
    void run.process?.stop(this.graceMs());
  }

  private onExit(run: ContainerRun, proc: ContainerProcess, exit: ContainerExit): void {
    run.stopProbes();
    run.ready = false;
    run.started = false;
    const exitCode = exit.code ?? signalExitCode(exit.signal);
    const terminated: ContainerState = {
      terminated: {
        exitCode,
        ...(exit.signal === null ? {} : { signal: constants.signals[exit.signal] }),
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt: kubeTime(proc.startedAt),
        finishedAt: kubeTime(exit.finishedAt),
        containerID: `process://${String(proc.pid)}`,
      },
    };
    run.log.push(
      Buffer.from(`--- process kubelet: ${run.spec.name} exited (code ${exitCode}) ---\n`),
    );
    if (this.terminating !== undefined || !this.restarts(exitCode)) {
      run.state = terminated;
      this.sync();
      return;
    }
    run.lastState = terminated;
    const s = this.ctx.settings;
    // Back-off resets once a container has run well for twice the cap (kubelet's backoff GC).
    if (exit.finishedAt.getTime() - proc.startedAt.getTime() > 2 * s.backoffMaxMs)
      run.backoffExp = 0;
    const delay =
      run.backoffExp === 0
        ? 0
        : Math.min(s.backoffBaseMs * 2 ** (run.backoffExp - 1), s.backoffMaxMs);
    run.backoffExp++;
    const again = (): void => {
      run.restartCount++;
      void this.startContainer(run);
    };
    if (delay === 0) {
      again();
      return;
    }
    run.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${run.spec.name} pod=${this.pod.metadata?.name ?? ''}`,
      },
    };
    run.timer = setTimeout(again, delay);
    this.sync();
  }

  private restarts(exitCode: number): boolean {
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
  }

  private graceMs(): number {
    const seconds =
      this.pod.metadata?.deletionGracePeriodSeconds ??
      this.pod.spec?.terminationGracePeriodSeconds ??
      30;
    return seconds * 1000;
  }

  private async shutdown(graceMs: number | undefined, deletePod: boolean): Promise<void> {
    clearTimeout(this.volumeSync);
    for (const run of this.runs) {
      clearTimeout(run.timer);
      run.stopProbes();
    }
    const grace = graceMs ?? this.graceMs();
    await Promise.all(
      this.runs.flatMap((r) => (r.process === undefined ? [] : [r.process.stop(grace)])),
    );
    if (!this.gone) {
      this.sync();
      await this.writing;
    }
    if (deletePod && !this.gone) await this.confirmDeletion();
    if (this.podIP !== undefined) this.ctx.pool.release(this.podIP);
    await rm(this.podDir, { recursive: true, force: true });
  }

  private async confirmDeletion(): Promise<void> {
    const meta = this.pod.metadata ?? {};
    try {
      // gracePeriodSeconds as a query parameter: KubeClient sends a DELETE body without a
      // Content-Length, which the apiserver does not read (the body would go unnoticed).
      await this.ctx.client.request(
        'DELETE',
        `/api/v1/namespaces/${meta.namespace ?? ''}/pods/${meta.name ?? ''}`,
        {
          query: { gracePeriodSeconds: 0 },
        },
      );
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    this.gone = true;
  }

  private status(): WrittenPodStatus {
    const views: ContainerView[] = this.runs.map((r) => ({
      status: r.status(),
      willRestart: this.terminating === undefined && r.state.terminated === undefined,
    }));
    const gates = (this.pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
    this.conditions = podConditions(this.conditions, views, gates, kubeTime());
    return {
      phase: podPhase(this.pod.spec!, views),
      hostIP: this.ctx.hostIP,
      hostIPs: [{ ip: this.ctx.hostIP }],
      ...(this.podIP === undefined ? {} : { podIP: this.podIP, podIPs: [{ ip: this.podIP }] }),
      startTime: this.startTime,
      conditions: this.conditions,
      containerStatuses: views.map((v) => v.status),
    };
  }

  /** Writes the status if it changed; writes are serialised and coalesced. */
  private sync(): void {
    this.dirty = true;
    this.writing ??= this.flush().finally(() => {
      this.writing = undefined;
    });
  }

  private async flush(): Promise<void> {
    while (this.dirty && !this.gone) {
      this.dirty = false;
      const status = this.status();
      const text = JSON.stringify(status);
      if (text === this.lastWritten) continue;
      const meta = this.pod.metadata ?? {};
      try {
        await this.ctx.client.request(
          'PATCH',
          `/api/v1/namespaces/${meta.namespace ?? ''}/pods/${meta.name ?? ''}/status`,
          {
            contentType: PATCH.merge,
            body: { metadata: { uid: meta.uid }, status },
          },
        );
        this.lastWritten = text;
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) {
          this.gone = true;
          return;
        }
        this.ctx.log(`pod ${this.key}: status write failed: ${errorMessage(err)}`);
        await new Promise((r) => setTimeout(r, this.ctx.settings.retryMs));
        this.dirty = true;
      }
    }
  }
}
