// Real KEDA (test/peers/keda.peer.mjs) on the test control plane: its operator (watches
// ScaledObjects, makes HPAs, runs the scalers) and its metrics adapter (serves
// external.metrics.k8s.io to the HPA controller through API aggregation), as local processes.
// Wiring as KEDA's chart does it, with loopback addresses: the adapter reaches the operator's
// gRPC metrics service over mTLS (certificates from one test CA, as --enable-cert-rotation would
// make), and the APIService points at a Service of type ExternalName → 127.0.0.1, which the
// aggregator resolves by name (ClusterIPs lead nowhere here: no kube-proxy runs).
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient } from '../../../operator/src/kube/client.js';
import { isNotFound } from '../../../operator/src/kube/errors.js';
import { issueCert, makeCa } from '../../cluster/pki.mjs';
import { freePort } from '../../support/free-port.js';
import { kubeconfigPath, waitForObject } from './kube.js';
import { answersOk, peerDir, startPeerProcess, type PeerProcess } from './peer-process.js';

/** KEDA's operator and adapter, registered as the cluster's external metrics API. */
export interface Keda {
  logs(): string;
  stop(): Promise<void>;
}

const API_SERVICE = 'v1beta1.external.metrics.k8s.io';
const API_SERVICE_PATH = `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`;
const ADAPTER_SERVICE = 'keda-metrics-apiserver';

function kedaBin(name: string): string {
  const dir = process.env['TESSERA_KEDA_BIN'];
  if (dir === undefined || dir === '')
    throw new Error(
      'TESSERA_KEDA_BIN is not set: run e2e tests through `node scripts/run-tests.mjs e2e` (test/peers/keda.peer.mjs)',
    );
  return join(dir, name);
}

/** The certificate files KEDA reads from its --cert-dir (ca.crt, tls.crt, tls.key). */
function kedaCerts(dir: string, namespace: string): void {
  const ca = makeCa(dir, 'keda-ca');
  const leaf = issueCert(dir, ca, 'keda', {
    usage: 'serverAuth,clientAuth',
    sans: [
      'IP:127.0.0.1',
      'DNS:localhost',
      `DNS:${ADAPTER_SERVICE}.${namespace}.svc`,
      `DNS:keda-operator.${namespace}.svc`,
    ],
  });
  copyFileSync(ca.cert, join(dir, 'ca.crt'));
  copyFileSync(leaf.cert, join(dir, 'tls.crt'));
  copyFileSync(leaf.key, join(dir, 'tls.key'));
}

/**
 * Starts KEDA with `namespace` as its own (cluster objects, leader election), watching
 * `watchNamespace`, and waits until the aggregated external metrics API is Available.
 * One at a time per control plane: the APIService is cluster-wide.
 */
export async function startKeda(
  client: KubeClient,
  options: { readonly namespace: string; readonly watchNamespace: string },
): Promise<Keda> {
  const { namespace } = options;
  const certs = peerDir('keda-certs');
  kedaCerts(certs, namespace);
  const env = {
    KUBECONFIG: kubeconfigPath(),
    WATCH_NAMESPACE: options.watchNamespace,
    KEDA_CLUSTER_OBJECT_NAMESPACE: namespace,
    POD_NAMESPACE: namespace,
  };
  const [grpcPort, operatorMetrics, probePort, securePort, adapterMetrics] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const peers: PeerProcess[] = [];
  const stopPeers = async (): Promise<void> => {
    for (const p of peers.reverse()) await p.stop();
    rmSync(certs, { recursive: true, force: true });
  };
  try {
    peers.push(
      await startPeerProcess({
        name: 'keda-operator',
        dir: peerDir('keda-operator'),
        env,
        argv: [
          kedaBin('keda-operator'),
          `--metrics-bind-address=127.0.0.1:${String(operatorMetrics)}`,
          `--health-probe-bind-address=127.0.0.1:${String(probePort)}`,
          `--metrics-service-bind-address=127.0.0.1:${String(grpcPort)}`,
          `--cert-dir=${certs}`,
          '--leader-elect=false',
          '--zap-log-level=info',
        ],
        ready: () => answersOk(`http://127.0.0.1:${String(probePort)}/readyz`),
        timeoutMs: 90_000,
      }),
    );
    peers.push(
      await startPeerProcess({
        name: 'keda-adapter',
        dir: peerDir('keda-adapter'),
        env,
        argv: [
          kedaBin('keda-adapter'),
          `--secure-port=${String(securePort)}`,
          '--bind-address=127.0.0.1',
          `--cert-dir=${certs}`,
          `--tls-cert-file=${join(certs, 'tls.crt')}`,
          `--tls-private-key-file=${join(certs, 'tls.key')}`,
          `--lister-kubeconfig=${kubeconfigPath()}`,
          `--authentication-kubeconfig=${kubeconfigPath()}`,
          `--authorization-kubeconfig=${kubeconfigPath()}`,
          `--metrics-service-address=127.0.0.1:${String(grpcPort)}`,
          `--port=${String(adapterMetrics)}`,
          '--zap-log-level=info',
        ],
        // Its own /readyz needs authentication; the metrics port answers once it is up.
        ready: () => answersOk(`http://127.0.0.1:${String(adapterMetrics)}/metrics`),
        timeoutMs: 90_000,
      }),
    );
    await client.request('POST', `/api/v1/namespaces/${namespace}/services`, {
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: ADAPTER_SERVICE, namespace },
        spec: {
          type: 'ExternalName',
          externalName: '127.0.0.1',
          ports: [{ name: 'https', port: securePort, protocol: 'TCP' }],
        },
      },
    });
    await client.request('POST', '/apis/apiregistration.k8s.io/v1/apiservices', {
      body: {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: API_SERVICE },
        spec: {
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          service: { namespace, name: ADAPTER_SERVICE, port: securePort },
          caBundle: readFileSync(join(certs, 'ca.crt')).toString('base64'),
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
    });
    const logs = (): string =>
      peers
        .map((p) => `--- ${p.name} ---\n${p.logs().split('\n').slice(-60).join('\n')}`)
        .join('\n');
    await waitForObject(
      client,
      '/apis/apiregistration.k8s.io/v1/apiservices',
      API_SERVICE,
      'the external metrics APIService Available',
      (o) =>
        (
          o?.['status'] as { conditions?: { type: string; status: string }[] } | undefined
        )?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true,
      { timeoutMs: 90_000, diagnostics: logs },
    );
    return {
      logs,
      stop: async () => {
        await client.request('DELETE', API_SERVICE_PATH).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        await stopPeers();
      },
    };
  } catch (err) {
    await client.request('DELETE', API_SERVICE_PATH).catch(() => undefined);
    await stopPeers();
    throw err;
  }
}
