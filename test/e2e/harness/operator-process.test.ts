// startOperator() runs the built operator as a process with leader election on its own Lease.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createNamespace, deleteNamespace, testClient, waitForObject } from '../support/kube.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';

type Lease = {
  metadata?: { name?: string };
  spec?: { holderIdentity?: string; leaseTransitions?: number };
};

describe('the operator as a child process', { timeout: 120_000 }, () => {
  const client = testClient();
  let ns: string;
  let operator: OperatorProcess | undefined;

  before(async () => {
    ns = await createNamespace(client, 'e2e-operator');
  });

  after(async () => {
    await operator?.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('takes its own Lease, takes it again after a restart, and exits 0 on SIGTERM', async () => {
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    operator = await startOperator({ watchNamespace: ns });
    const held = await waitForObject<Lease>(
      client,
      leases,
      operator.leaseName,
      'held',
      (l) => (l?.spec?.holderIdentity ?? '') !== '',
    );
    const live = await fetch(`${operator.healthUrl}/healthz`);
    assert.equal(live.status, 200);

    operator = await operator.restart();
    const again = await waitForObject<Lease>(
      client,
      leases,
      operator.leaseName,
      'held by the new process',
      (l) =>
        (l?.spec?.holderIdentity ?? '') !== '' &&
        l?.spec?.holderIdentity !== held?.spec?.holderIdentity,
    );
    assert.ok(again?.spec?.holderIdentity);
    const code = await operator.stop();
    operator = undefined;
    assert.equal(code, 0);
  });
});
