import { ConfigError, loadConfig, type OperatorConfig } from './config.js';
import { LeaderElector } from './controller/leader-election.js';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from './kube/errors.js';
import { EventRecorder } from './kube/events.js';
import { KubeConfigClient } from './kube/kube-config-client.js';
import { inClusterKubeConfig, kubeConfigFromFile } from './kube/kubeconfig.js';
import { createLogger } from './observability/logger.js';
import { startHealthServers } from './observability/health.js';
import { OperatorMetrics } from './observability/metrics.js';
import { Operator } from './operator.js';

function kubeConfig(config: OperatorConfig): KubeConfig {
  return config.kube.kind === 'kubeconfig'
    ? kubeConfigFromFile(config.kube.path)
    : inClusterKubeConfig(config.kube.host, config.kube.port);
}

/** The reporting controller of every Event (events.k8s.io/v1 `reportingController`). */
const REPORTING_CONTROLLER = 'tessera-operator';

/** Entry point: config → client → health/metrics → leader election → controllers. */
async function main(): Promise<void> {
  let config: OperatorConfig;
  try {
    config = loadConfig(undefined, process.argv.slice(2));
  } catch (err) {
    // Print every problem and exit before opening any port (conventions 4.6).
    process.stderr.write(`${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const metrics = new OperatorMetrics(true);
  const client = new KubeConfigClient(kubeConfig(config));
  client.observe((method, _path, code) => {
    metrics.kubeRequests.inc({ method, code: String(code) });
  });
  const le = config.leaderElection;
  const events = new EventRecorder(client, {
    controller: REPORTING_CONTROLLER,
    instance: le.enabled ? le.identity : `${hostname()}_${String(process.pid)}`,
    logger,
  });
  const operator = new Operator({ config, client, logger, metrics, events });
  const elector = le.enabled
    ? new LeaderElector(client, {
        ...le,
        logger,
        onStartedLeading: () => {
          metrics.leader.set({ name: le.leaseName }, 1);
          operator.start().catch((err: unknown) => {
            logger.fatal({ err: errorMessage(err) }, 'Failed to start controllers');
            process.exit(1);
          });
        },
        // controller-runtime exits when it loses the lease: another replica is writing now.
        onStoppedLeading: () => {
          metrics.leader.set({ name: le.leaseName }, 0);
          process.exit(1);
        },
      })
    : undefined;
  const servers = await startHealthServers({
    ...config.http,
    registry: metrics.registry,
    healthz: { ping: () => true },
    // Ready means able to do the job: a standby once it reached the Lease (it could take over;
    // not while, say, the Lease's namespace is missing), a leader once its caches synced.
    readyz: {
      'leader-election': () => elector === undefined || elector.isLeader() || elector.canLead(),
      informers: () => elector?.isLeader() === false || operator.hasSynced(),
    },
  });
  logger.info(
    {
      bindAddress: config.http.bindAddress,
      healthPort: servers.healthPort,
      metricsPort: servers.metricsPort,
      leaderElection: le.enabled,
    },
    'Started operator',
  );
  if (elector !== undefined) elector.start();
  else await operator.start();

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    const deadline = setTimeout(() => process.exit(1), 20_000);
    deadline.unref();
    void (async () => {
      await operator.stop();
      await elector?.stop();
      await servers.close();
      client.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`tessera-operator failed: ${errorMessage(err)}\n`);
  process.exit(1);
});
