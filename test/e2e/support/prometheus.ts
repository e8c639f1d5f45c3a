// A real Prometheus (test/peers/prometheus.peer.mjs) scraping the server pods of one namespace
// as the chart's PodMonitor selects them (labels app.kubernetes.io/name=tessera-server and
// managed-by=tessera-operator, container port `metrics`, not Failed or Succeeded), with the
// `namespace` and `pod` labels the Prometheus Operator attaches. Debian builds Prometheus without
// Kubernetes service discovery (`kubernetes_sd_configs` is not in its config schema), so a pod
// watch here plays that part and hands the targets to Prometheus's file-based discovery.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubeClient } from '../../../operator/src/kube/client.js';
import { Informer } from '../../../operator/src/controller/informer.js';
import { testLogger } from '../../integration/operator/cluster.js';
import { freePort } from '../../support/free-port.js';
import { answersOk, peerDir, startPeerProcess, type PeerProcess } from './peer-process.js';
import type { Pod } from './pod-types.js';

/** A running Prometheus. */
export interface Prometheus extends PeerProcess {
  readonly url: string;
  /** The value of an instant query's single sample, or undefined when it has none. */
  query(promql: string): Promise<number | undefined>;
}

const POD_MONITOR_SELECTOR =
  'app.kubernetes.io/name=tessera-server,app.kubernetes.io/managed-by=tessera-operator';

/** file_sd's format: one group per pod, its `metrics` container ports, namespace and pod labels. */
function targetGroups(pods: readonly Pod[]): unknown[] {
  return pods
    .filter(
      (p) =>
        p.status?.podIP !== undefined && !['Failed', 'Succeeded'].includes(p.status.phase ?? ''),
    )
    .flatMap((p) => {
      const ports = (p.spec?.containers ?? []).flatMap((c) =>
        (c.ports ?? []).filter((port) => port.name === 'metrics').map((port) => port.containerPort),
      );
      if (ports.length === 0) return [];
      return [
        {
          targets: ports.map((port) => `${p.status?.podIP ?? ''}:${String(port)}`),
          labels: { namespace: p.metadata?.namespace ?? '', pod: p.metadata?.name ?? '' },
        },
      ];
    });
}

function prometheusBinary(): string {
  const binary = process.env['TESSERA_PROMETHEUS'];
  if (binary === undefined || binary === '')
    throw new Error(
      'TESSERA_PROMETHEUS is not set: run e2e tests through `node scripts/run-tests.mjs e2e` (test/peers/prometheus.peer.mjs)',
    );
  return binary;
}

/** Starts Prometheus scraping the server pods of `namespace` every `scrapeSeconds`. */
export async function startPrometheus(
  client: KubeClient,
  options: { readonly namespace: string; readonly scrapeSeconds?: number },
): Promise<Prometheus> {
  const dir = peerDir('prometheus');
  const targets = join(dir, 'targets.json');
  const writeTargets = (pods: readonly Pod[]): void => {
    // Atomically: Prometheus reloads the file when it changes and must never read half of it.
    writeFileSync(`${targets}.tmp`, JSON.stringify(targetGroups(pods)));
    renameSync(`${targets}.tmp`, targets);
  };
  writeTargets([]);
  const pods = new Informer(client, {
    path: `/api/v1/namespaces/${options.namespace}/pods`,
    labelSelector: POD_MONITOR_SELECTOR,
    resyncMs: 0,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    logger: testLogger(),
    onEvent: () => {
      writeTargets(pods.list());
    },
  });
  pods.start();
  await pods.waitForSync();
  const interval = `${String(options.scrapeSeconds ?? 2)}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      {
        job_name: 'tessera-model-servers',
        file_sd_configs: [{ files: [targets], refresh_interval: interval }],
      },
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const peer = await startPeerProcess({
    name: 'prometheus',
    dir,
    argv: [
      prometheusBinary(),
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${String(port)}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    ready: () => answersOk(`${url}/-/ready`),
  });
  const query = async (promql: string): Promise<number | undefined> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: { value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`Prometheus query failed: ${body.error ?? ''}`);
    const value = body.data?.result[0]?.value[1];
    return value === undefined ? undefined : Number(value);
  };
  return {
    ...peer,
    url,
    query,
    stop: async () => {
      await pods.stop();
      await peer.stop();
    },
  };
}
