// Peer: KEDA's operator and metrics adapter (github.com/kedacore/keda/v2), built from the Go
// module proxy through the wrapper module in ./keda (KEDA's go.mod carries a replace directive,
// so `go install …@version` refuses; a main module may copy it), plus KEDA's CRDs from the same
// module. The autoscaling e2e test runs both binaries against the test control plane. Cached by a
// hash of the wrapper's go.mod/go.sum and the Go version; a cold build compiles ~3,000 packages
// (15–30 minutes on two shared cores), later runs reuse it.
// Returns { TESSERA_KEDA_BIN: <folder with keda-operator, keda-adapter>,
//           TESSERA_KEDA_CRDS: <folder with KEDA's CRD YAML files> }.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goEnv } from '../cluster/build.mjs';
import { cacheDir } from './cache.mjs';
import { hashInputs, isDone, lastLines, markDone, run, withLock } from './exec.mjs';

/** Compiles Go: provisioned in the runner's Go lane, one build at a time (scripts/run-tests.mjs). */
export const provisionLane = 'go';

const moduleDir = join(dirname(fileURLToPath(import.meta.url)), 'keda');
const MODULE = 'github.com/kedacore/keda/v2';
const BINARIES = [
  ['keda-operator', `${MODULE}/cmd/operator`],
  ['keda-adapter', `${MODULE}/cmd/adapter`],
];

/** The KEDA version the wrapper pins (single source: its go.mod). */
export function kedaVersion() {
  const version = /github\.com\/kedacore\/keda\/v2 (v[\d.]+)/.exec(
    readFileSync(join(moduleDir, 'go.mod'), 'utf8'),
  )?.[1];
  if (!version)
    throw new Error('keda: test/peers/keda/go.mod does not pin github.com/kedacore/keda/v2');
  return version;
}

async function goRun(args, what, timeoutMs, log) {
  try {
    return await run('go', args, {
      cwd: moduleDir,
      env: goEnv(),
      timeoutMs,
      log,
      heartbeat: `keda: still ${what}`,
    });
  } catch (err) {
    const offline = /dial tcp|no such host|proxyconnect|i\/o timeout|TLS handshake/.test(
      err.output ?? '',
    );
    throw new Error(
      offline
        ? `keda: the Go module proxy could not be reached (GOPROXY=${process.env.GOPROXY ?? 'default'}): ${lastLines(err.output, 2)}`
        : `keda: ${what} failed: ${err.timedOut ? 'timed out' : lastLines(err.output, 8) || err.message}`,
    );
  }
}

export async function provision(log) {
  const version = kedaVersion();
  const goVersion = (
    await run('go', ['version'], { env: goEnv(), timeoutMs: 30_000 }).catch((err) => {
      throw new Error(`keda: Go (>= 1.26) is needed on PATH to build KEDA: ${err.message}`);
    })
  ).trim();
  const key = hashInputs(
    readFileSync(join(moduleDir, 'go.mod')),
    readFileSync(join(moduleDir, 'go.sum')),
    goVersion,
    'keda-peer-v1',
  );
  const dir = cacheDir('keda', `${version}-${key}`);
  const bin = join(dir, 'bin');
  const crds = join(dir, 'crds');
  const result = () => ({ TESSERA_KEDA_BIN: bin, TESSERA_KEDA_CRDS: crds });
  const cached = () => isDone(dir, key) && BINARIES.every(([name]) => existsSync(join(bin, name)));
  if (cached()) {
    log(`reusing cached KEDA ${version} in ${dir}`);
    return result();
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return result();
      const started = Date.now();
      log(`building KEDA ${version} (operator, metrics adapter) with ${goVersion}`);
      log(
        'a cold build compiles ~3,000 packages (15-30 minutes on 2 shared cores); later runs reuse it',
      );
      await goRun(['mod', 'download', MODULE], 'downloading modules', 900_000, log);
      const staging = join(dir, `.partial-${process.pid}`);
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      try {
        for (const [name, pkg] of BINARIES) {
          const one = Date.now();
          await goRun(
            [
              'build',
              '-trimpath',
              '-buildvcs=false',
              '-ldflags',
              `-s -w -X ${MODULE}/version.Version=${version}`,
              '-o',
              join(staging, name),
              pkg,
            ],
            `compiling ${name}`,
            2_400_000,
            log,
          );
          log(`built ${name} in ${Math.round((Date.now() - one) / 1000)}s`);
        }
        rmSync(bin, { recursive: true, force: true });
        renameSync(staging, bin);
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
      // KEDA's CRDs, from the same module (config/crd/bases): the operator's controllers watch
      // all of them, so all are installed.
      const moduleRoot = JSON.parse(
        await goRun(['list', '-m', '-json', MODULE], 'locating the module', 120_000, log),
      ).Dir;
      const source = join(moduleRoot, 'config', 'crd', 'bases');
      rmSync(crds, { recursive: true, force: true });
      mkdirSync(crds, { recursive: true });
      for (const file of readdirSync(source).filter((f) => f.endsWith('.yaml')))
        copyFileSync(join(source, file), join(crds, file));
      markDone(dir, key);
      log(`KEDA ${version} ready in ${Math.round((Date.now() - started) / 1000)}s: ${bin}`);
      return result();
    },
    { log },
  );
}
