// Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go module proxy with the
// wrapper module in ./k8s (see docs/adr/0007-real-control-plane-for-tests.md), into a cache
// folder keyed by the Kubernetes version and a hash of the wrapper's go.mod/go.sum.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../peers/cache.mjs';
import { withLock } from '../peers/exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const moduleDir = join(here, 'k8s');

/** The pinned versions, read from the wrapper's go.mod (single source). */
export function pinnedVersions() {
  const gomod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const k8s = /k8s\.io\/kubernetes v(\d+\.\d+\.\d+)/.exec(gomod)?.[1];
  const etcd = /go\.etcd\.io\/etcd\/server\/v3 (v[\d.]+)/.exec(gomod)?.[1];
  if (!k8s || !etcd)
    throw new Error(`test/cluster/k8s/go.mod does not pin k8s.io/kubernetes and etcd`);
  return { k8s, etcd };
}

/** What the tests run, as [name, Go package, which ldflags]; each is built only when missing. */
const TARGETS = [
  ['etcd', 'go.etcd.io/etcd/server/v3', 'plain'],
  ['kube-apiserver', 'k8s.io/kubernetes/cmd/kube-apiserver', 'version'],
  ['kube-controller-manager', 'k8s.io/kubernetes/cmd/kube-controller-manager', 'version'],
  // The quickstart test runs the README's kubectl commands as written.
  ['kubectl', 'k8s.io/kubernetes/cmd/kubectl', 'version'],
];

/** Go settings for building from a wrapper module: the control plane here, KEDA in test/peers/keda.peer.mjs. */
export function goEnv() {
  return {
    ...process.env,
    GOTOOLCHAIN: 'local', // fail loudly on a Go mismatch instead of downloading a toolchain
    GOWORK: 'off',
    GOFLAGS: '-mod=mod',
    CGO_ENABLED: '0', // KUBE_STATIC_BINARIES in k8s hack/lib/golang.sh
  };
}

function run(args, log) {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: moduleDir,
      env: goEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    let packages = 0;
    const onData = (chunk) => {
      tail = (tail + chunk.toString()).slice(-4000);
      for (const raw of chunk.toString().split('\n')) {
        const line = raw.trim();
        if (!line) continue;
        // `go build -v` prints one import path per compiled package: report every 100th.
        if (/^[\w.-]+(\/[\w.~+-]+)+$/.test(line)) {
          if (++packages % 100 === 0) log(`  compiled ${packages} packages (${line})`);
        } else log(`  go: ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) =>
      reject(new Error(`cannot run 'go' (is Go >= 1.26 on PATH?): ${err.message}`)),
    );
    child.on('exit', (code) => {
      if (code === 0) return resolve();
      const offline =
        /dial tcp|no such host|proxyconnect|i\/o timeout|connection refused|TLS handshake/.test(
          tail,
        );
      reject(
        new Error(
          offline
            ? `the Go module proxy could not be reached (GOPROXY=${process.env.GOPROXY ?? 'default'}); ` +
                `the control plane for integration tests is built from it. Last output:\n${tail}`
            : `go ${args.join(' ')} failed with exit code ${code}:\n${tail}`,
        ),
      );
    });
  });
}

/** Builds (or reuses) the binaries; returns the folder that holds them. */
export async function ensureBinaries(log = console.log) {
  const { k8s, etcd } = pinnedVersions();
  const hash = createHash('sha256')
    .update(readFileSync(join(moduleDir, 'go.mod')))
    .update(readFileSync(join(moduleDir, 'go.sum')))
    .digest('hex')
    .slice(0, 12);
  const dir = cacheDir('kube', `v${k8s}-etcd-${etcd}-${hash}`);
  const missingNow = () => TARGETS.filter(([name]) => !existsSync(join(dir, name)));
  if (missingNow().length === 0) {
    log(`using cached control plane v${k8s} (etcd ${etcd}) and kubectl in ${dir}`);
    return dir;
  }
  // Several test runs share the cache: one builds while the others wait, then reuse its binaries
  // (without the lock, concurrent builds shared one staging folder and removed it under each other).
  return withLock(dir, () => build(dir, k8s, etcd, missingNow(), log), { log });
}

async function build(dir, k8s, etcd, missing, log) {
  if (missing.length === 0) {
    log(`another test run built the control plane v${k8s} in ${dir}`);
    return dir;
  }
  const go = spawnSync('go', ['version'], { env: goEnv(), encoding: 'utf8' });
  if (go.status !== 0)
    throw new Error(`Go is required to build the test control plane: ${go.stderr || go.error}`);
  log(
    `building ${missing.map(([name]) => name).join(', ')} (Kubernetes v${k8s}, etcd ${etcd}) with ${go.stdout.trim()}`,
  );
  log('a cold build takes 5-20 minutes on 2 cores; later runs reuse the cache');
  const minor = k8s.split('.')[1];
  const v = 'k8s.io/component-base/version';
  const c = 'k8s.io/client-go/pkg/version';
  // Version ldflags make /version report the real release (k8s hack/lib/version.sh).
  const ldflags = [
    '-s -w',
    `-X ${v}.gitVersion=v${k8s} -X ${v}.gitMajor=1 -X ${v}.gitMinor=${minor} -X ${v}.gitTreeState=clean`,
    `-X ${c}.gitVersion=v${k8s} -X ${c}.gitMajor=1 -X ${c}.gitMinor=${minor}`,
  ].join(' ');
  const staging = join(dir, `.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    log('downloading modules through the Go module proxy');
    await run(['mod', 'download'], log);
    for (const [name, pkg, kind] of missing) {
      const flags = kind === 'version' ? ldflags : '-s -w';
      const started = Date.now();
      log(`building ${name} (${pkg})`);
      await run(
        [
          'build',
          '-v',
          '-trimpath',
          '-buildvcs=false',
          '-ldflags',
          flags,
          '-o',
          join(staging, name),
          pkg,
        ],
        log,
      );
      log(`built ${name} in ${Math.round((Date.now() - started) / 1000)}s`);
    }
    for (const [name] of missing) renameSync(join(staging, name), join(dir, name));
  } finally {
    // A failed build leaves no half-written binaries behind (the next run starts clean).
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureBinaries().then(
    (dir) => console.log(dir),
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
