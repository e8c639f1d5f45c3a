import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { KubeList, WatchEvent } from '../../../operator/src/kube/client.js';
import { KubeApiError } from '../../../operator/src/kube/errors.js';
import { KubeConfigClient } from '../../../operator/src/kube/kube-config-client.js';
import { kubeConfigFromFile } from '../../../operator/src/kube/kubeconfig.js';
import { createNamespace, deleteNamespace, testClient } from './cluster.js';
import { execKubeconfig } from './exec-kubeconfig.js';

const run = promisify(execFile);

interface SelfSubjectReview {
  status: { userInfo: { username: string } };
}

const whoami = (client: KubeConfigClient): Promise<SelfSubjectReview> =>
  client.request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });

describe('a kubeconfig with an exec credential plugin, against kube-apiserver', () => {
  let admin: ReturnType<typeof testClient>;
  let ns: string;
  let saToken: string;

  before(async () => {
    admin = testClient();
    ns = await createNamespace(admin, 'exec');
    await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'exec-user' } },
    });
    const review = await admin.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/exec-user/token`,
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } },
    );
    saToken = review.status.token;
  });

  after(async () => {
    await deleteNamespace(admin, ns);
    admin.close();
  });

  it('authenticates requests as the identity the plugin returns', async () => {
    const kubeconfig = execKubeconfig(saToken);
    const client = new KubeConfigClient(kubeConfigFromFile(kubeconfig.path));
    try {
      const me = await whoami(client);
      assert.equal(me.status.userInfo.username, `system:serviceaccount:${ns}:exec-user`);
      // That identity has no RBAC: the apiserver's refusal arrives as a typed 403.
      await assert.rejects(
        client.request('GET', `/api/v1/namespaces/${ns}/secrets`),
        (err) =>
          err instanceof KubeApiError && err.statusCode === 403 && err.reason === 'Forbidden',
      );
      assert.ok(kubeconfig.runs() >= 1);
    } finally {
      client.close();
    }
  });

  it('runs the plugin again for every request while its credential is expired', async () => {
    const kubeconfig = execKubeconfig(saToken, true);
    const client = new KubeConfigClient(kubeConfigFromFile(kubeconfig.path));
    try {
      for (let i = 0; i < 3; i++) await whoami(client);
      assert.ok(kubeconfig.runs() >= 3, `plugin ran ${String(kubeconfig.runs())} times`);
    } finally {
      client.close();
    }
  });

  it('authenticates watches through the plugin', async () => {
    const kubeconfig = execKubeconfig();
    const client = new KubeConfigClient(kubeConfigFromFile(kubeconfig.path));
    const abort = new AbortController();
    try {
      // Watch from the list's resourceVersion, so the create below is seen however late the
      // watch connects.
      const list = await client.request<KubeList>('GET', `/api/v1/namespaces/${ns}/configmaps`);
      const seen = new Promise<WatchEvent>((resolve) => {
        void client.watch(
          `/api/v1/namespaces/${ns}/configmaps`,
          { resourceVersion: list.metadata.resourceVersion },
          (event) => {
            if (event.object.metadata?.name === 'watched') resolve(event);
          },
          abort.signal,
        );
      });
      await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' } },
      });
      assert.equal((await seen).type, 'ADDED');
    } finally {
      abort.abort();
      client.close();
    }
  });

  it('works for kubectl too', async () => {
    const kubectl = process.env['TESSERA_TEST_KUBECTL'] ?? 'kubectl';
    const kubeconfig = execKubeconfig(saToken);
    const { stdout } = await run(
      kubectl,
      ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'],
      {
        // HOME: kubectl's discovery cache goes beside the kubeconfig, not into the checkout.
        env: {
          PATH: process.env['PATH'],
          HOME: dirname(kubeconfig.path),
          KUBECONFIG: kubeconfig.path,
        },
      },
    );
    assert.equal(stdout, `system:serviceaccount:${ns}:exec-user`);
  });
});
