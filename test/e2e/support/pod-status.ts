// Pod status as a kubelet computes it (pkg/kubelet/kubelet_pods.go getPhase, status/generate.go),
// from what the process kubelet knows about each container. Pure: the caller passes the clock.
import type { ContainerStatus, PodCondition, PodSpec, WrittenPodStatus } from './pod-types.js';

/** What the kubelet knows about one container. */
export interface ContainerView {
  readonly status: ContainerStatus;
  /** The container will be started again (restartPolicy allows it and the pod is not stopping). */
  readonly willRestart: boolean;
}

/** getPhase, for pods without init containers. */
export function podPhase(
  spec: PodSpec,
  containers: readonly ContainerView[],
): WrittenPodStatus['phase'] {
  let running = 0;
  let waiting = 0;
  let succeeded = 0;
  let failed = 0;
  for (const { status, willRestart } of containers) {
    if (status.state?.running !== undefined) running++;
    else if (status.state?.terminated !== undefined) {
      if (willRestart) running++;
      else if (status.state.terminated.exitCode === 0) succeeded++;
      else failed++;
    } else if (status.lastState?.terminated !== undefined)
      running++; // in back-off: restarting
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (failed > 0) return 'Failed';
  if (succeeded > 0) return 'Succeeded';
  return spec.restartPolicy === 'Always' ? 'Running' : 'Pending';
}

/**
 * The four kubelet-owned conditions. A condition keeps its lastTransitionTime until its status
 * changes; PodScheduled comes from the binding (the apiserver writes it) and is kept as it is.
 */
export function podConditions(
  previous: readonly PodCondition[],
  containers: readonly ContainerView[],
  readinessGates: readonly string[],
  now: string,
): PodCondition[] {
  const containersReady = containers.length > 0 && containers.every((c) => c.status.ready);
  const gatesPass = readinessGates.every((t) =>
    previous.some((c) => c.type === t && c.status === 'True'),
  );
  const wanted: [string, boolean, string | undefined][] = [
    ['Initialized', true, undefined],
    ['ContainersReady', containersReady, containersReady ? undefined : 'ContainersNotReady'],
    [
      'Ready',
      containersReady && gatesPass,
      containersReady ? (gatesPass ? undefined : 'ReadinessGatesNotReady') : 'ContainersNotReady',
    ],
  ];
  const out: PodCondition[] = previous.filter((c) => !wanted.some(([t]) => t === c.type));
  for (const [type, ok, reason] of wanted) {
    const status = ok ? 'True' : 'False';
    const before = previous.find((c) => c.type === type);
    const notReady = containers.filter((c) => !c.status.ready).map((c) => c.status.name);
    out.push({
      type,
      status,
      lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
      ...(reason === undefined ? {} : { reason }),
      ...(reason === 'ContainersNotReady'
        ? { message: `containers with unready status: [${notReady.join(' ')}]` }
        : {}),
    });
  }
  const order = [
    'PodReadyToStartContainers',
    'Initialized',
    'Ready',
    'ContainersReady',
    'PodScheduled',
  ];
  return out.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}
