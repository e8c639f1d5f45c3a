// Runs the README's operator quickstart as written, with kubectl built from the Go module proxy
// (test/cluster/build.mjs), against the real control plane, while the operator runs out of
// cluster (docs/operator.md, "Running it out of cluster") with an exec-credential kubeconfig.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { kubeconfigPath, paths, testClient, waitFor } from './cluster.js';
import { execKubeconfig } from './exec-kubeconfig.js';

const ROOT = join(import.meta.dirname, '../../..');
const MAIN = join(ROOT, 'operator/src/main.ts');
const KUBECTL = process.env['TESSERA_TEST_KUBECTL'] ?? 'kubectl';
const KUBECTL_HOME = mkdtempSync(join(tmpdir(), 'tessera-kubectl-'));

/** The commands of the first `sh` block under "## The operator" in README.md. */
function quickstartCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The operator'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one quickstart line (plain words, no shell syntax) with the test cluster's kubeconfig. */
function kubectl(line: string): Promise<Run> {
  const [command, ...args] = line.trim().split(/\s+/);
  assert.equal(command, 'kubectl', `the quickstart runs only kubectl: ${line}`);
  return new Promise((resolve) => {
    execFile(
      KUBECTL,
      args,
      // HOME: kubectl keeps its discovery cache in ~/.kube; never in the checkout.
      {
        cwd: ROOT,
        env: { PATH: process.env['PATH'], HOME: KUBECTL_HOME, KUBECONFIG: kubeconfigPath() },
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface LogLine {
  msg?: string;
  healthPort?: number;
  metricsPort?: number;
  bindAddress?: string;
}

describe('the README operator quickstart, with the operator out of cluster', () => {
  const admin = testClient();
  const logs: LogLine[] = [];
  let operator: ChildProcess;
  let commands: string[];

  const logged = (what: string, match: (l: LogLine) => boolean): Promise<LogLine> =>
    waitFor(what, () => logs.find(match), 60_000);
  const readyz = async (): Promise<{ status: number; body: string }> => {
    const { healthPort } = await logged('Started operator', (l) => l.msg === 'Started operator');
    const res = await fetch(`http://127.0.0.1:${String(healthPort)}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const events = async (): Promise<
    {
      reason: string;
      note: string;
      type: string;
      reportingController: string;
      series?: unknown;
      regarding: { name: string };
    }[]
  > =>
    (
      await admin.request<{ items: never[] }>(
        'GET',
        '/apis/events.k8s.io/v1/namespaces/default/events',
      )
    ).items;

  before(() => {
    commands = quickstartCommands();
    // Started before the quickstart creates tessera-system: it must say why it cannot lead.
    operator = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        '--health-port',
        '0',
        '--metrics-port=0',
        '--watch-namespace',
        'default',
      ],
      {
        env: {
          PATH: process.env['PATH'],
          TESSERA_OPERATOR_KUBECONFIG: execKubeconfig().path,
          TESSERA_OPERATOR_RETRY_PERIOD_SECONDS: '0.5',
          TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS: '4',
          TESSERA_OPERATOR_LEASE_DURATION_SECONDS: '6',
          TESSERA_OPERATOR_RESYNC_SECONDS: '1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    createInterface({ input: operator.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not a log line
      }
    });
  });

  after(async () => {
    operator.kill('SIGTERM');
    await new Promise((r) => operator.once('exit', r));
    // Leave the CRDs (the other tests use them); remove what the quickstart added.
    await kubectl(
      'kubectl delete --wait=false --ignore-not-found -f crds/samples/ -f deploy/operator/',
    );
    await admin.request('DELETE', paths.isvc('default', 'overcommitted')).catch(() => undefined);
    admin.close();
  });

  it('is three kubectl commands', () => {
    assert.deepEqual(commands, [
      'kubectl apply -f crds/ -f deploy/operator/',
      'kubectl apply -f crds/samples/',
      'kubectl get tisvc',
    ]);
  });

  it('is not ready while the Lease namespace is missing, and says why', async () => {
    const started = await logged('Started operator', (l) => l.msg === 'Started operator');
    assert.equal(started.bindAddress, '127.0.0.1', 'out of cluster the endpoints stay on loopback');
    await logged('the Lease error', (l) =>
      (l.msg ?? '').startsWith(
        'Cannot take the leader Lease tessera-system/tessera-operator-leader: namespace tessera-system does not exist',
      ),
    );
    assert.deepEqual(await readyz(), { status: 500, body: 'failed: leader-election' });
  });

  it('installs the CRDs, the namespace and the operator, and the operator becomes ready', async () => {
    const res = await kubectl(commands[0]!);
    assert.equal(res.code, 0, res.stderr);
    for (const created of [
      'namespace/tessera-system created',
      'serviceaccount/tessera-operator created',
      'clusterrole.rbac.authorization.k8s.io/tessera-operator created',
      'role.rbac.authorization.k8s.io/tessera-operator-leader-election created',
      'deployment.apps/tessera-operator created',
    ])
      assert.ok(res.stdout.includes(created), `${created} in:\n${res.stdout}`);
    assert.doesNotMatch(res.stderr, /not found|PodSecurity/);
    const ns = await admin.request<{ metadata: { labels: Record<string, string> } }>(
      'GET',
      '/api/v1/namespaces/tessera-system',
    );
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    await logged('leadership', (l) => l.msg === 'Became leader');
    await waitFor('/readyz ok', async () => (await readyz()).status === 200, 30_000);
    assert.equal((await readyz()).body, 'ok');
  });

  it('applies the samples and lists them with their URLs', async () => {
    const res = await kubectl(commands[1]!);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /inferenceservice\.serving\.tessera\.io\/resnet created/);
    assert.match(res.stdout, /clusterservingruntime\.serving\.tessera\.io\/tessera-onnx created/);
    const listed = await waitFor(
      'both samples with a URL in kubectl get tisvc',
      async () => {
        const get = await kubectl(commands[2]!);
        assert.equal(get.code, 0, get.stderr);
        return get.stdout.includes('http://resnet-predictor.default.svc.cluster.local') &&
          get.stdout.includes('http://sklearn-iris-predictor.default.svc.cluster.local')
          ? get.stdout
          : undefined;
      },
      60_000,
    );
    assert.match(listed, /^NAME\s+URL\s+READY/);
    assert.match(
      listed,
      /\nresnet\s+http:\/\/resnet-predictor\.default\.svc\.cluster\.local\s+False/,
    );
  });

  it('records Events for the transitions, once each', async () => {
    const resnet = await waitFor('resnet Events', async () => {
      const list = (await events()).filter((e) => e.regarding.name === 'resnet');
      return list.filter((e) => e.reason === 'SuccessfulCreate').length === 3 &&
        list.some((e) => e.reason === 'RuntimeSelected')
        ? list
        : undefined;
    });
    for (const e of resnet) assert.equal(e.reportingController, 'tessera-operator');
    assert.deepEqual(resnet.map((e) => e.note).sort(), [
      'Created Deployment resnet-predictor',
      'Created HorizontalPodAutoscaler resnet-predictor',
      'Created Service resnet-predictor',
      'Selected ClusterServingRuntime tessera-onnx for model format onnx',
    ]);
    // Resyncs re-reconcile every second; wait for several, then nothing new may have appeared.
    const metricsPort = (await logged('Started operator', (l) => l.msg === 'Started operator'))
      .metricsPort;
    const reconciles = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
      const m =
        /controller_runtime_reconcile_total\{controller="inferenceservice",result="success"\} (\d+)/.exec(
          text,
        );
      return Number(m?.[1] ?? 0);
    };
    const before = await reconciles();
    await waitFor('four more reconciles', async () => (await reconciles()) >= before + 4, 30_000);
    const again = (await events()).filter((e) => e.regarding.name === 'resnet');
    assert.equal(again.length, resnet.length);
  });

  it('records one Warning for a child the API server rejects, however often it retries', async () => {
    await admin.request('POST', paths.isvcs('default'), {
      body: {
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'overcommitted', namespace: 'default' },
        spec: {
          predictor: {
            model: {
              modelFormat: { name: 'onnx' },
              storageUri: 's3://models/x/',
              // requests above limits: the Deployment is invalid, the InferenceService is not.
              resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } },
            },
          },
        },
      },
    });
    const warnings = async (): Promise<{ reason: string; series?: unknown }[]> =>
      (await events()).filter((e) => e.regarding.name === 'overcommitted' && e.type === 'Warning');
    await waitFor('the DeploymentApplyFailed Warning', async () => (await warnings()).length > 0);
    const isvc = async (): Promise<{ status?: { conditions?: { reason: string }[] } }> =>
      admin.request('GET', paths.isvc('default', 'overcommitted'));
    await waitFor('the failure in status', async () =>
      (await isvc()).status?.conditions?.some((c) => c.reason === 'DeploymentApplyFailed'),
    );
    const errorsBefore = await (async () => {
      const { metricsPort } = await logged('Started operator', (l) => l.msg === 'Started operator');
      return async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
        const m =
          /controller_runtime_reconcile_errors_total\{controller="inferenceservice"\} (\d+)/.exec(
            text,
          );
        return Number(m?.[1] ?? 0);
      };
    })();
    const start = await errorsBefore();
    await waitFor(
      'three more failed reconciles',
      async () => (await errorsBefore()) >= start + 3,
      60_000,
    );
    const list = await warnings();
    assert.equal(list.length, 1);
    assert.equal(list[0]?.reason, 'DeploymentApplyFailed');
    assert.equal(list[0]?.series, undefined);
  });
});
