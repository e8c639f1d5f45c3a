// Restarts, refused images, and Secrets reaching the process, observed through the API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROBE_PATHS, SERVER_PORTS } from '@tessera/contract';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import { REPO_ROOT } from '../../support/server-process.js';
import {
  createNamespace,
  deleteNamespace,
  podReady,
  testClient,
  waitForObject,
} from '../support/kube.js';
import { ProcessKubelet } from '../support/process-kubelet.js';
import type { Container, Pod } from '../support/pod-types.js';

const IMAGE = 'tessera/server:0.1.0';
const PORTS: Container['ports'] = [
  { name: 'http', containerPort: SERVER_PORTS.http },
  { containerPort: SERVER_PORTS.grpc },
  { containerPort: SERVER_PORTS.metrics },
];

function pod(name: string, container: Container, volumes: unknown[] = []): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 5, containers: [container], volumes },
  };
}

describe('pods on the process kubelet', { timeout: 180_000 }, () => {
  const client = testClient();
  let ns: string;
  let kubelet: ProcessKubelet;
  const pods = (): string => `/api/v1/namespaces/${ns}/pods`;
  const diagnostics = (): string => kubelet.dumpLogs();
  const first = (
    p: Pod | undefined,
  ): NonNullable<NonNullable<Pod['status']>['containerStatuses']>[number] | undefined =>
    p?.status?.containerStatuses?.[0];

  before(async () => {
    ns = await createNamespace(client, 'e2e-pods');
    // A short back-off keeps the crash loop quick: restarts after 0, 0.5 and 1 s.
    kubelet = await ProcessKubelet.start(client, {
      namespaces: [ns],
      probeTimeScale: 0.5,
      backoffBaseMs: 500,
      backoffMaxMs: 1000,
    });
  });

  after(async () => {
    await kubelet.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('restarts a container that exits, with its exit code in lastState and a growing restartCount', async () => {
    // `tessera nonsense` prints its usage and exits with code 2.
    await client.request('POST', pods(), {
      body: pod('crasher', { name: 'server', image: IMAGE, args: ['nonsense'] }),
    });
    const crashed = await waitForObject<Pod>(
      client,
      pods(),
      'crasher',
      'restartCount >= 2',
      (p) => (first(p)?.restartCount ?? 0) >= 2,
      { timeoutMs: 60_000, diagnostics },
    );
    const status = first(crashed)!;
    assert.equal(status.lastState?.terminated?.exitCode, 2);
    assert.equal(status.lastState.terminated.reason, 'Error');
    assert.ok(
      status.state?.running !== undefined || status.state?.waiting?.reason === 'CrashLoopBackOff',
      JSON.stringify(status.state),
    );
    assert.equal(crashed?.status?.phase, 'Running');
    assert.match(kubelet.logs(ns, 'crasher', 'server'), /Usage: tessera start/);
    const later = await waitForObject<Pod>(
      client,
      pods(),
      'crasher',
      'restartCount grows',
      (p) => (first(p)?.restartCount ?? 0) > status.restartCount,
      { timeoutMs: 60_000, diagnostics },
    );
    assert.ok(first(later)!.restartCount > status.restartCount);
  });

  it('restarts a container whose liveness probe fails', async () => {
    const container: Container = {
      name: 'server',
      image: IMAGE,
      args: ['start', '/models'],
      ports: PORTS,
      // A path the server answers 404: every liveness probe fails once the server listens.
      livenessProbe: {
        httpGet: { path: '/v2/no-such-path', port: 'http' },
        periodSeconds: 1,
        failureThreshold: 2,
      },
      volumeMounts: [{ name: 'models', mountPath: '/models' }],
    };
    await client.request('POST', pods(), {
      body: pod('unhealthy', container, [{ name: 'models', emptyDir: {} }]),
    });
    const restarted = await waitForObject<Pod>(
      client,
      pods(),
      'unhealthy',
      'restarted',
      (p) => (first(p)?.restartCount ?? 0) >= 1,
      { timeoutMs: 60_000, diagnostics },
    );
    // The server never exits on its own: the kubelet's SIGTERM ended it (handled: 0, or before
    // its handlers were installed: 128 + 15).
    assert.ok(
      [0, 143].includes(first(restarted)?.lastState?.terminated?.exitCode ?? -1),
      JSON.stringify(first(restarted)),
    );
    assert.match(kubelet.logs(ns, 'unhealthy', 'server'), /liveness probe failed/);
  });

  it('refuses an image it cannot run with ErrImagePull and keeps the pod Pending', async () => {
    await client.request('POST', pods(), {
      body: pod('other-image', { name: 'main', image: 'busybox:1.36', args: ['sleep', '1000'] }),
    });
    const refused = await waitForObject<Pod>(
      client,
      pods(),
      'other-image',
      'ErrImagePull',
      (p) => first(p)?.state?.waiting?.reason === 'ErrImagePull',
      { timeoutMs: 30_000, diagnostics },
    );
    assert.equal(refused?.status?.phase, 'Pending');
    assert.match(first(refused)?.state?.waiting?.message ?? '', /busybox:1\.36/);
  });

  it('hands a Secret to the process as a volume and through secretKeyRef', async () => {
    const iris = join(REPO_ROOT, 'examples', 'models', 'iris');
    const settings = JSON.parse(
      await readFile(join(iris, 'model-settings.json'), 'utf8'),
    ) as Record<string, unknown>;
    await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'server' },
        data: {
          'server-name': Buffer.from('named-by-a-secret').toString('base64'),
          'model-settings.json': Buffer.from(
            JSON.stringify({ ...settings, name: 'iris-from-secret' }),
          ).toString('base64'),
          'model.onnx': (await readFile(join(iris, 'model.onnx'))).toString('base64'),
        },
      },
    });
    const container: Container = {
      name: 'server',
      image: IMAGE,
      args: ['start', '/etc/tessera/models'],
      ports: PORTS,
      env: [
        {
          name: 'TESSERA_SERVER_NAME',
          valueFrom: { secretKeyRef: { name: 'server', key: 'server-name' } },
        },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      readinessProbe: {
        httpGet: { path: PROBE_PATHS.serverReady, port: 'http' },
        periodSeconds: 1,
      },
      volumeMounts: [{ name: 'models', mountPath: '/etc/tessera/models', readOnly: true }],
    };
    const volumes = [
      {
        name: 'models',
        secret: {
          secretName: 'server',
          items: [
            { key: 'model-settings.json', path: 'iris/model-settings.json' },
            { key: 'model.onnx', path: 'iris/model.onnx' },
          ],
        },
      },
    ];
    await client.request('POST', pods(), { body: pod('secret-reader', container, volumes) });
    const ready = await waitForObject<Pod>(
      client,
      pods(),
      'secret-reader',
      'Ready',
      (p) => p !== undefined && podReady(p),
      { timeoutMs: 60_000, diagnostics },
    );
    const base = `http://${ready!.status!.podIP!}:${SERVER_PORTS.http}`;
    const meta = (await (await fetch(`${base}/v2`)).json()) as { name: string };
    assert.equal(meta.name, 'named-by-a-secret');
    const model = await fetch(`${base}/v2/models/iris-from-secret/ready`);
    assert.equal(model.status, 200);
  });
});
