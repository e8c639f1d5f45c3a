// A Deployment of Tessera's server, rolled out by the real Deployment and ReplicaSet controllers
// onto the process kubelet, answers the official tritonclient over REST and gRPC on its pod IP;
// deleting its pod stops the processes and the replacement comes up on a new IP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_DIR, PROBE_PATHS, SERVER_ARGS, SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { runTritonConformance } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  podReady,
  serviceEndpoints,
  testClient,
  waitForObject,
  waitForObjects,
} from '../support/kube.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import type { Pod } from '../support/pod-types.js';

const LABELS = { app: 'iris' };

function deployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'iris', labels: LABELS },
    spec: {
      replicas: 1,
      selector: { matchLabels: LABELS },
      template: {
        metadata: { labels: LABELS },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: 'server',
              image: 'registry.example/tessera/server:0.1.0',
              args: [...SERVER_ARGS],
              ports: [
                { name: 'http', containerPort: SERVER_PORTS.http },
                { name: 'grpc', containerPort: SERVER_PORTS.grpc },
                { name: 'metrics', containerPort: SERVER_PORTS.metrics },
              ],
              readinessProbe: {
                httpGet: { path: PROBE_PATHS.serverReady, port: 'http' },
                periodSeconds: 2,
              },
              livenessProbe: {
                httpGet: { path: PROBE_PATHS.serverLive, port: 'http' },
                periodSeconds: 5,
                failureThreshold: 6,
              },
              volumeMounts: [{ name: 'models', mountPath: MODEL_DIR, readOnly: true }],
            },
          ],
          volumes: [{ name: 'models', persistentVolumeClaim: { claimName: 'models' } }],
        },
      },
    },
  };
}

function pidOf(pod: Pod): number {
  const id = pod.status?.containerStatuses?.[0]?.containerID ?? '';
  return Number(/^process:\/\/(\d+)$/.exec(id)?.[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a Deployment of the server on the process kubelet', { timeout: 240_000 }, () => {
  const client = testClient();
  let ns: string;
  let kubelet: ProcessKubelet;
  const pods = (): string => `/api/v1/namespaces/${ns}/pods`;
  const diagnostics = (): string => kubelet.dumpLogs();

  before(async () => {
    ns = await createNamespace(client, 'e2e-deploy');
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    await cp(join(REPO_ROOT, 'examples', 'models'), kubelet.claimDir(ns, 'models'), {
      recursive: true,
    });
  });

  after(async () => {
    await kubelet.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  let first: Pod;

  it('becomes Available once the readiness probe passes, and serves iris to tritonclient on the pod IP', async () => {
    const seen: Pod[] = [];
    const podWatch = waitForObjects(
      client,
      pods(),
      'a Ready pod',
      (objects) => {
        const pod = objects[0] as Pod | undefined;
        if (pod !== undefined) seen.push(pod);
        return pod !== undefined && podReady(pod) ? pod : undefined;
      },
      { labelSelector: 'app=iris', timeoutMs: 120_000, diagnostics },
    );
    await client.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      body: deployment(),
    });
    first = await podWatch;
    const available = await waitForObject(
      client,
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      'iris',
      'Available',
      (d) =>
        (
          d?.['status'] as { conditions?: { type: string; status: string }[] } | undefined
        )?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true,
      { timeoutMs: 60_000, diagnostics },
    );
    assert.equal((available?.['status'] as { availableReplicas?: number }).availableReplicas, 1);

    // The process was running before it was ready: readiness came from the probe, not the start.
    const runningNotReady = seen.find(
      (p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined && !podReady(p),
    );
    assert.ok(runningNotReady, 'the pod was never seen running and not yet ready');
    const status = first.status!;
    assert.equal(status.phase, 'Running');
    assert.equal(status.hostIP, '127.0.0.1');
    assert.match(status.podIP ?? '', /^127\.\d+\.\d+\.\d+$/);
    assert.notEqual(status.podIP, '127.0.0.1');
    assert.deepEqual(status.conditions?.map((c) => [c.type, c.status]).sort(), [
      ['ContainersReady', 'True'],
      ['Initialized', 'True'],
      ['PodScheduled', 'True'],
      ['Ready', 'True'],
    ]);
    const container = status.containerStatuses![0]!;
    assert.equal(container.ready, true);
    assert.equal(container.started, true);
    assert.equal(container.restartCount, 0);
    assert.equal(first.spec?.nodeName, kubelet.nodeName);

    // A Service resolves to the pod the way its EndpointSlice would.
    await client.request('POST', `/api/v1/namespaces/${ns}/services`, {
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'iris' },
        spec: { selector: LABELS, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      },
    });
    assert.deepEqual(await serviceEndpoints(client, ns, 'iris'), [status.podIP]);

    const checks = await runTritonConformance({
      http: `${status.podIP!}:${SERVER_PORTS.http}`,
      grpc: `${status.podIP!}:${SERVER_PORTS.grpc}`,
    });
    const failed = checks.filter((c) => !c.ok);
    assert.deepEqual(failed, [], `${JSON.stringify(failed)}\n${diagnostics()}`);
    for (const name of ['http.infer.iris.binary', 'http.infer.iris.json', 'grpc.infer.iris']) {
      assert.ok(
        checks.some((c) => c.name === name && c.ok),
        `${name} did not run`,
      );
    }
  });

  it('stops the processes of a deleted pod, and the ReplicaSet replaces it on a new pod IP', async () => {
    const name = first.metadata!.name!;
    const pid = pidOf(first);
    assert.ok(alive(pid), `server process ${pid} is not running`);
    await client.request('DELETE', `${pods()}/${name}`);
    const gone = waitForObject(client, pods(), name, 'deleted', (p) => p === undefined, {
      timeoutMs: 60_000,
      diagnostics,
    });
    const replacement = await waitForObjects(
      client,
      pods(),
      'a Ready replacement',
      (objects) => (objects as Pod[]).find((p) => p.metadata?.name !== name && podReady(p)),
      { labelSelector: 'app=iris', timeoutMs: 120_000, diagnostics },
    );
    await gone;
    // The kubelet confirms a deletion only after the processes exited.
    assert.equal(alive(pid), false, `server process ${pid} outlived its pod`);
    await assert.rejects(
      fetch(`http://${first.status!.podIP!}:${SERVER_PORTS.http}${PROBE_PATHS.serverLive}`),
    );
    assert.notEqual(replacement.status?.podIP, first.status?.podIP);
    const live = await fetch(
      `http://${replacement.status!.podIP!}:${SERVER_PORTS.http}${PROBE_PATHS.serverReady}`,
    );
    assert.equal(live.status, 200);
    assert.match(kubelet.logs(ns, name, 'server'), /Server ready/);
  });
});
