import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import {
  create,
  createNamespace,
  deleteNamespace,
  isvcBody,
  kubeconfigPath,
  paths,
  runtimeBody,
  testClient,
  waitFor,
} from './cluster.js';

const MAIN = join(import.meta.dirname, '../../../operator/src/main.ts');

interface OperatorProcess {
  readonly identity: string;
  readonly child: ChildProcess;
  /** Resolves with the metrics port once the process logged "Started operator". */
  readonly metricsPort: Promise<number>;
}

function spawnOperator(identity: string, ns: string): OperatorProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      PATH: process.env['PATH'],
      TESSERA_OPERATOR_KUBECONFIG: kubeconfigPath(),
      TESSERA_OPERATOR_WATCH_NAMESPACE: ns,
      TESSERA_OPERATOR_NAMESPACE: ns,
      TESSERA_OPERATOR_LEADER_IDENTITY: identity,
      TESSERA_OPERATOR_LEASE_DURATION_SECONDS: '6',
      TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS: '4',
      TESSERA_OPERATOR_RETRY_PERIOD_SECONDS: '0.5',
      TESSERA_OPERATOR_BIND_ADDRESS: '127.0.0.1',
      TESSERA_OPERATOR_METRICS_PORT: '0',
      TESSERA_OPERATOR_HEALTH_PORT: '0',
      TESSERA_OPERATOR_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const metricsPort = new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; metricsPort?: number };
        if (entry.msg === 'Started operator' && entry.metricsPort !== undefined)
          resolve(entry.metricsPort);
      } catch {
        // not a log line
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`operator ${identity} exited with ${String(code)} before starting`));
    });
  });
  return { identity, child, metricsPort };
}

/** Non-GET requests to the API, excluding the Lease (which a candidate may write). */
async function resourceWrites(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^rest_client_requests_total\{method="(\w+)",code="(\d+)"\} (\d+)/.exec(line);
    // Successful writes only: both processes may race to create the Lease at start, and the
    // loser's 409 is a refused attempt, not a write.
    if (m !== null && m[1] !== 'GET' && m[2]?.startsWith('2') === true) total += Number(m[3]);
  }
  return total;
}

function stopProcess(p: OperatorProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.child.once('exit', () => {
      resolve();
    });
    p.child.kill(signal);
  });
}

describe('leader election between two operator processes', () => {
  let client: ReturnType<typeof testClient>;
  let ns: string;
  const procs: OperatorProcess[] = [];

  before(async () => {
    client = testClient();
    ns = await createNamespace(client, 'leader');
    await create(client, paths.runtimes(ns), runtimeBody('rt', 'onnx', { namespace: ns }));
  });

  after(async () => {
    for (const p of procs) await stopProcess(p, 'SIGKILL');
    await deleteNamespace(client, ns);
    client.close();
  });

  const lease = (): Promise<KubeObject> =>
    client.request<KubeObject>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/tessera-operator-leader`,
    );
  const holder = async (): Promise<string | undefined> =>
    ((await lease())['spec'] as { holderIdentity?: string }).holderIdentity;

  it('has one writer, and the standby takes over within the lease duration after the leader is killed', async () => {
    procs.push(spawnOperator('operator-a', ns), spawnOperator('operator-b', ns));
    const ports = await Promise.all(procs.map((p) => p.metricsPort));
    const leaderId = await waitFor(
      'a leader',
      async () => {
        const h = await holder();
        return h === '' ? undefined : h;
      },
      30_000,
    );
    const leaderIndex = procs.findIndex((p) => p.identity === leaderId);
    assert.ok(leaderIndex >= 0, `unknown holder ${leaderId}`);
    const standbyIndex = 1 - leaderIndex;

    await create(client, paths.isvcs(ns), isvcBody(ns, 'first'));
    await waitFor(
      'first reconciled',
      () => client.request('GET', paths.deployment(ns, 'first-predictor')),
      30_000,
    );
    // Only the leader wrote; the standby only read the Lease.
    assert.ok((await resourceWrites(ports[leaderIndex]!)) > 0);
    assert.equal(await resourceWrites(ports[standbyIndex]!), 0);

    const transitionsBefore = ((await lease())['spec'] as { leaseTransitions: number })
      .leaseTransitions;
    const killedAt = Date.now();
    await stopProcess(procs[leaderIndex]!, 'SIGKILL');
    await create(client, paths.isvcs(ns), isvcBody(ns, 'second'));
    await waitFor(
      'second reconciled by the new leader',
      () => client.request('GET', paths.deployment(ns, 'second-predictor')),
      30_000,
    );
    const takeoverSeconds = (Date.now() - killedAt) / 1000;
    assert.equal(await holder(), procs[standbyIndex]!.identity);
    assert.equal(
      ((await lease())['spec'] as { leaseTransitions: number }).leaseTransitions,
      transitionsBefore + 1,
    );
    process.stdout.write(
      `# failover: new leader reconciled ${takeoverSeconds.toFixed(1)}s after the kill\n`,
    );
  });

  it('releases the lease on SIGTERM so a successor need not wait for it to expire', async () => {
    const survivor = procs.find((p) => p.child.exitCode === null && p.child.signalCode === null)!;
    assert.equal(await holder(), survivor.identity, 'the survivor leads before it is stopped');
    const next = spawnOperator('operator-c', ns);
    procs.push(next);
    await next.metricsPort;
    await stopProcess(survivor, 'SIGTERM');
    assert.equal(survivor.child.exitCode, 0);
    // Released, not left to expire: once the old leader has exited, the Lease no longer names it
    // (it is empty, or already held by the successor).
    const released = (await lease())['spec'] as { holderIdentity?: string };
    assert.notEqual(released.holderIdentity, survivor.identity);
    await waitFor('operator-c leads', async () => (await holder()) === 'operator-c', 30_000);
  });
});
