// Starts etcd, kube-apiserver and kube-controller-manager on loopback, envtest-style
// (controller-runtime pkg/internal/testing/controlplane), and writes an admin kubeconfig.
// One control plane serves a whole test run; stop() kills exactly the processes it started.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { issueCert, makeCa } from './pki.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startProcess(name, bin, args, dir, log) {
  const logFile = join(dir, `${name}.log`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  const keep = (c) => {
    chunks.push(c);
    if (chunks.length > 400) chunks.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  child.tail = () => Buffer.concat(chunks).toString('utf8').split('\n').slice(-30).join('\n');
  child.on('exit', (code, signal) => {
    writeFileSync(logFile, Buffer.concat(chunks));
    if (!child.stopping)
      log(`${name} exited unexpectedly (code ${code}, signal ${signal}); see ${logFile}`);
  });
  return child;
}

async function waitFor(what, timeoutMs, probe, child) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: process exited early:\n${child.tail()}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000}s (${last}):\n${child.tail()}`);
}

function httpsGet(url, token, ca, method = 'GET', payload = undefined, contentType = undefined) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${token}` };
    if (contentType) headers['content-type'] = contentType;
    const req = request(url, { method, headers, ca, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

/**
 * Installs CRDs before kube-controller-manager starts, as envtest does (CRDInstallOptions): the
 * garbage collector only learns about new resource types on its 30 s discovery resync, and
 * owners deleted before that would leave their children behind.
 */
async function installCrds(server, token, ca, files, log) {
  for (const file of files) {
    const crd = parseYaml(readFileSync(file, 'utf8'));
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`;
    const res = await httpsGet(
      `${server}${path}?fieldManager=tessera-test-harness&force=true`,
      token,
      ca,
      'PATCH',
      JSON.stringify(crd),
      'application/apply-patch+yaml',
    );
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`installing CRD ${file} failed: ${res.status} ${res.body}`);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const live = JSON.parse((await httpsGet(`${server}${path}`, token, ca)).body);
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
        break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${crd.metadata.name} not Established after 30s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (files.length > 0) log(`installed ${files.length} CRDs`);
}

async function stopChild(child, timeoutMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.stopping = true;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await child.exited;
  clearTimeout(timer);
}

/**
 * kube-controller-manager's controllers per test tier. The integration tier runs no kubelet and
 * writes Deployment status itself, so the Deployment controller must not run there. The e2e tier
 * runs pods (test/e2e/support/process-kubelet.ts) and needs Deployments rolled out for real. The
 * EndpointSlice controller is left out of both: pod IPs are loopback addresses there, which
 * EndpointSlice validation rejects ("may not be in the loopback range").
 */
export const CONTROLLERS = {
  integration: ['garbage-collector-controller', 'replicaset-controller', 'namespace-controller'],
  e2e: [
    'garbage-collector-controller',
    'replicaset-controller',
    'namespace-controller',
    'deployment-controller',
    // The autoscaling e2e test scales through real HPAs (KEDA's, on the external metrics API).
    'horizontal-pod-autoscaler-controller',
  ],
};

/**
 * The HPA controller's periods, shortened (defaults: 15 s sync, 5 min downscale stabilisation)
 * so that a test sees a scale-out and the scale-in after it within a minute or two.
 */
const HPA_FLAGS = [
  '--horizontal-pod-autoscaler-sync-period=5s',
  '--horizontal-pod-autoscaler-downscale-stabilization=20s',
];

/**
 * The front proxy of API aggregation (kube-apiserver "Configure the Aggregation Layer"): the
 * apiserver proxies `/apis/<aggregated group>` to an extension apiserver (KEDA's metrics adapter)
 * with this client certificate, and the extension trusts the user headers it sets because the
 * apiserver publishes the CA in kube-system/extension-apiserver-authentication.
 */
function aggregationFlags(pki) {
  const ca = makeCa(pki, 'front-proxy-ca');
  const client = issueCert(pki, ca, 'front-proxy-client', { usage: 'clientAuth' });
  return [
    `--requestheader-client-ca-file=${ca.cert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${client.cert}`,
    `--proxy-client-key-file=${client.key}`,
  ];
}

/**
 * Starts the control plane from the binaries in `binDir`.
 * `crdFiles` are installed before the controller manager starts; `controllers` is its
 * `--controllers` list (see {@link CONTROLLERS}).
 * Returns { kubeconfig, server, token, dir, stop, setControllers }.
 */
export async function startControlPlane(
  binDir,
  log = console.log,
  { crdFiles = [], startTimeoutMs = 120_000, controllers = CONTROLLERS.integration } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-kube-'));
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(24).toString('hex');
  // Static token for the admin (system:masters); the file is private to this run.
  writeFileSync(
    join(dir, 'tokens.csv'),
    `${token},tessera-admin,tessera-admin,"system:masters"\n`,
    {
      mode: 0o600,
    },
  );
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(join(dir, 'sa.key'), privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'sa.pub'), publicKey);
  const procs = [];
  // If the test runner dies, take the control plane with it rather than orphaning it.
  const killAll = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  const onSignal = (signal) => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', killAll);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async () => {
    process.removeListener('exit', killAll);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const p of procs.reverse()) await stopChild(p);
    if (process.env.TESSERA_TEST_KEEP_CLUSTER_LOGS) log('control plane logs kept in ' + dir);
    else rmSync(dir, { recursive: true, force: true });
  };
  try {
    const started = Date.now();
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = startProcess(
      'etcd',
      join(binDir, 'etcd'),
      [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      dir,
      log,
    );
    procs.push(etcd);
    await waitFor(
      'etcd',
      startTimeoutMs,
      async () => {
        const res = await fetch(`${etcdUrl}/health`);
        return res.ok;
      },
      etcd,
    );
    const certDir = join(dir, 'pki');
    mkdirSync(certDir, { recursive: true });
    const aggregation = aggregationFlags(certDir);
    const api = startProcess(
      'kube-apiserver',
      join(binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1', // no default route on sandboxes (controller-runtime#669)
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=https://127.0.0.1:${apiPort}`,
        `--service-account-key-file=${join(dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
        // A /16 leaves room for thousands of Services (the scale benchmark creates 500).
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        // No ServiceAccount controller runs, so pods' default SA would be missing (envtest).
        '--disable-admission-plugins=ServiceAccount',
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        ...aggregation,
      ],
      dir,
      log,
    );
    procs.push(api);
    const server = `https://127.0.0.1:${apiPort}`;
    let ca;
    await waitFor(
      'kube-apiserver /readyz',
      startTimeoutMs,
      async () => {
        // The apiserver writes its self-signed serving certificate (and CA) into --cert-dir.
        if (ca === undefined) {
          const crt = join(certDir, 'apiserver.crt');
          if (!existsSync(crt)) return false;
          ca = readFileSync(crt);
        }
        // Poll with the admin token: anonymous /readyz sees 403 while RBAC bootstraps (fabric8#7807).
        const res = await httpsGet(`${server}/readyz`, token, ca);
        return res.status === 200;
      },
      api,
    );
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'tessera-test',
            cluster: { server, 'certificate-authority-data': ca.toString('base64') },
          },
        ],
        users: [{ name: 'tessera-admin', user: { token } }],
        contexts: [
          { name: 'tessera-test', context: { cluster: 'tessera-test', user: 'tessera-admin' } },
        ],
        'current-context': 'tessera-test',
      }),
      { mode: 0o600 },
    );
    await installCrds(server, token, ca, crdFiles, log);
    const startKcm = (list) =>
      startProcess(
        'kube-controller-manager',
        join(binDir, 'kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfig}`,
          '--leader-elect=false',
          '--secure-port=0',
          `--controllers=${list.join(',')}`,
          `--service-account-private-key-file=${join(dir, 'sa.key')}`,
          ...HPA_FLAGS,
        ],
        dir,
        log,
      );
    let kcm = startKcm(controllers);
    procs.push(kcm);
    log(`control plane ready at ${server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    let running = controllers;
    /**
     * Restarts kube-controller-manager with another set of controllers (the e2e tier adds the
     * Deployment controller, which would fight the operator tests that write Deployment status).
     */
    const setControllers = async (list) => {
      if (list.join(',') === running.join(',')) return;
      await stopChild(kcm);
      procs.splice(procs.indexOf(kcm), 1);
      kcm = startKcm(list);
      procs.push(kcm);
      running = list;
      log(`kube-controller-manager restarted with ${list.join(',')}`);
    };
    return { kubeconfig, server, token, dir, stop, setControllers };
  } catch (err) {
    await stop();
    throw err;
  }
}
