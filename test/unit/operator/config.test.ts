import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../operator/src/config.js';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({ KUBECONFIG: 'config/kubeconfig.yaml' });
    assert.deepEqual(c.kube, { kind: 'kubeconfig', path: 'config/kubeconfig.yaml' });
    assert.equal(c.workers, 4);
    assert.equal(c.resyncMs, 600_000);
    assert.equal(c.fieldManager, 'tessera-operator');
    assert.equal(c.manifests.serverImage, 'tessera/server:0.1.0');
    assert.equal(c.http.metricsPort, 8080);
    assert.equal(c.http.healthPort, 8081);
    if (!c.leaderElection.enabled) assert.fail('leader election should default to on');
    {
      assert.equal(c.leaderElection.leaseDurationMs, 15_000);
      assert.equal(c.leaderElection.renewDeadlineMs, 10_000);
      assert.equal(c.leaderElection.retryPeriodMs, 2_000);
    }
    assert.ok(Object.isFrozen(c));
  });

  it('prefers TESSERA_OPERATOR_KUBECONFIG, then KUBECONFIG, then in-cluster', () => {
    assert.deepEqual(loadConfig({ TESSERA_OPERATOR_KUBECONFIG: '/a', KUBECONFIG: '/b' }).kube, {
      kind: 'kubeconfig',
      path: '/a',
    });
    assert.deepEqual(
      loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '6443' }).kube,
      {
        kind: 'inCluster',
        host: '10.0.0.1',
        port: '6443',
      },
    );
    assert.throws(() => loadConfig({}), /no API server/);
  });

  it('parses booleans with stringbool, so "false" is false', () => {
    assert.equal(
      loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_LEADER_ELECT: 'false' }).leaderElection
        .enabled,
      false,
    );
    assert.equal(
      loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_LEADER_ELECT: '0' }).leaderElection.enabled,
      false,
    );
  });

  it('watches all namespaces by default, or the comma-separated list given', () => {
    assert.deepEqual(loadConfig({ KUBECONFIG: '/k' }).watchNamespaces, []);
    const c = loadConfig({
      KUBECONFIG: '/k',
      TESSERA_OPERATOR_WATCH_NAMESPACE: ' team-a, team-b,,team-a ',
    });
    assert.deepEqual(c.watchNamespaces, ['team-a', 'team-b']);
    assert.throws(
      () => loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_WATCH_NAMESPACE: 'team-a,Team_B' }),
      /TESSERA_OPERATOR_WATCH_NAMESPACE: must be a comma-separated list of namespaces/,
    );
  });

  it('reads the pod settings a namespace-scoped or air-gapped install needs', () => {
    const defaults = loadConfig({ KUBECONFIG: '/k' });
    assert.equal(defaults.clusterRuntimes, true);
    assert.deepEqual(defaults.manifests.imagePullSecrets, []);
    assert.equal(defaults.manifests.modelVolumeSizeLimit, '20Gi');
    const c = loadConfig({
      KUBECONFIG: '/k',
      TESSERA_OPERATOR_CLUSTER_RUNTIMES: 'false',
      TESSERA_OPERATOR_IMAGE_PULL_SECRETS: 'mirror-a,mirror-b',
      TESSERA_OPERATOR_MODEL_VOLUME_SIZE_LIMIT: '50Gi',
    });
    assert.equal(c.clusterRuntimes, false);
    assert.deepEqual(c.manifests.imagePullSecrets, ['mirror-a', 'mirror-b']);
    assert.equal(c.manifests.modelVolumeSizeLimit, '50Gi');
    assert.equal(c.manifests.serverShutdownDelaySeconds, 10, 'the default shutdown delay');
    assert.equal(
      loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS: '0' })
        .manifests.serverShutdownDelaySeconds,
      0,
    );
    assert.throws(
      () => loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS: '-1' }),
      /TESSERA_OPERATOR_SERVER_SHUTDOWN_DELAY_SECONDS/,
    );
    assert.throws(
      () => loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_MODEL_VOLUME_SIZE_LIMIT: 'lots' }),
      /TESSERA_OPERATOR_MODEL_VOLUME_SIZE_LIMIT: must be a memory quantity/,
    );
  });

  it('builds the image from image and tag', () => {
    const c = loadConfig({
      KUBECONFIG: '/k',
      TESSERA_OPERATOR_SERVER_IMAGE: 'r.example/s',
      TESSERA_OPERATOR_SERVER_IMAGE_TAG: '1.2.3',
    });
    assert.equal(c.manifests.serverImage, 'r.example/s:1.2.3');
  });

  it('reports every invalid variable at once', () => {
    try {
      loadConfig({
        KUBECONFIG: '/k',
        TESSERA_OPERATOR_WORKERS: '0',
        TESSERA_OPERATOR_METRICS_PORT: 'x',
        TESSERA_OPERATOR_LOG_LEVEL: 'loud',
      });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.issues.length, 3);
      assert.match(err.message, /TESSERA_OPERATOR_WORKERS/);
      assert.match(err.message, /TESSERA_OPERATOR_METRICS_PORT/);
      assert.match(err.message, /TESSERA_OPERATOR_LOG_LEVEL/);
    }
  });

  it('requires leaseDuration > renewDeadline > retryPeriod', () => {
    assert.throws(
      () =>
        loadConfig({
          KUBECONFIG: '/k',
          TESSERA_OPERATOR_LEASE_DURATION_SECONDS: '5',
          TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS: '10',
        }),
      /TESSERA_OPERATOR_LEASE_DURATION_SECONDS: must be greater than TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS/,
    );
    assert.throws(
      () => loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_RETRY_PERIOD_SECONDS: '10' }),
      /TESSERA_OPERATOR_RENEW_DEADLINE_SECONDS: must be greater than TESSERA_OPERATOR_RETRY_PERIOD_SECONDS/,
    );
  });

  it('takes flags for every TESSERA_OPERATOR_* variable, over the environment', () => {
    const c = loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_WORKERS: '2' }, [
      '--workers=8',
      '--watch-namespace',
      'team-a',
      '--leader-elect=false',
      '--health-port',
      '0',
    ]);
    assert.equal(c.workers, 8);
    assert.deepEqual(c.watchNamespaces, ['team-a']);
    assert.equal(c.leaderElection.enabled, false);
    assert.equal(c.http.healthPort, 0);
    assert.equal(loadConfig({}, ['--kubeconfig', '/x']).kube.kind, 'kubeconfig');
    assert.throws(() => loadConfig({ KUBECONFIG: '/k' }, ['--nope']), /unknown argument --nope/);
  });

  it('binds to loopback out of cluster and to every address in a pod', () => {
    assert.equal(loadConfig({ KUBECONFIG: '/k' }).http.bindAddress, '127.0.0.1');
    assert.equal(loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }).http.bindAddress, '0.0.0.0');
    assert.equal(
      loadConfig({ KUBECONFIG: '/k', TESSERA_OPERATOR_BIND_ADDRESS: '0.0.0.0' }).http.bindAddress,
      '0.0.0.0',
    );
  });
});
