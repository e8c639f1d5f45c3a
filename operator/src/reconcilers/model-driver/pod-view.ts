import { AGENT_PORT, CONTAINER_NAMES } from '@tessera/contract';
import type { KubeObject } from '../../kube/client.js';

/** The facts about a server pod the model driver acts on. */
export interface PodView {
  readonly name: string;
  readonly uid: string;
  /** `http://<podIP>:<agent port>` once the pod has an address. */
  readonly agentUrl: string | undefined;
  /** Running, not terminating, and its agent container passes its readiness probe. */
  readonly agentReady: boolean;
  readonly terminating: boolean;
  /** The pod's Ready condition: its readiness probe passed, so its Service routes to it. */
  readonly ready: boolean;
  /** Why the agent cannot be asked yet, in the user's terms. */
  readonly waitingFor: string | undefined;
}

interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string }[];
  podIP?: string;
  containerStatuses?: {
    name: string;
    ready?: boolean;
    state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
  }[];
}

/** Reads a Pod object. Pure. */
export function podView(pod: KubeObject): PodView {
  const status = (pod['status'] ?? {}) as PodStatus;
  const name = pod.metadata?.name ?? '';
  const terminating = pod.metadata?.deletionTimestamp !== undefined;
  const agent = status.containerStatuses?.find((c) => c.name === CONTAINER_NAMES.agent);
  const agentUrl = agentUrlOf(status.podIP);
  const agentReady =
    !terminating && status.phase === 'Running' && agentUrl !== undefined && agent?.ready === true;
  return {
    name,
    uid: pod.metadata?.uid ?? name,
    agentUrl,
    agentReady,
    terminating,
    ready: status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
    waitingFor: agentReady ? undefined : waitingReason(status, agent, terminating),
  };
}

function agentUrlOf(ip: string | undefined): string | undefined {
  if (ip === undefined || ip === '') return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${AGENT_PORT}`;
}

function waitingReason(
  status: PodStatus,
  agent: NonNullable<PodStatus['containerStatuses']>[number] | undefined,
  terminating: boolean,
): string {
  if (terminating) return 'the pod is terminating';
  if (status.phase !== 'Running') return `the pod is ${status.phase ?? 'Pending'}`;
  const detail = agent?.state?.waiting?.reason ?? agent?.state?.terminated?.reason;
  if (agent === undefined) return 'the pod has no agent container';
  return detail === undefined
    ? 'waiting for the agent to become ready'
    : `the agent container is ${detail}`;
}
