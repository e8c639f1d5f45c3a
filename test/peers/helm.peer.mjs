// Peer: a real Helm v3 CLI for the chart tests (lint, template, install against the test control
// plane). Built from the Go module proxy with `go install` (Helm's go.mod has no replace
// directives); cached by the Helm version and the Go version. The version ldflags are Helm's own
// Makefile's: without them `helm version` reads "v3.22" and helm's default capabilities (template,
// lint deprecations) read Kubernetes v1.20, which a chart's `kubeVersion` constraint refuses.
// Returns { TESSERA_TEST_HELM: <path to the helm binary> }.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './cache.mjs';
import { hashInputs, isDone, lastLines, markDone, run, withLock } from './exec.mjs';

/** Compiles Go: provisioned in the runner's Go lane, one build at a time (scripts/run-tests.mjs). */
export const provisionLane = 'go';

/** The pinned Helm release; bump it here (the cache key follows). */
export const HELM_VERSION = 'v3.22.0';
const MODULE = 'helm.sh/helm/v3';

function goEnv(extra = {}) {
  return {
    ...process.env,
    GOTOOLCHAIN: 'local', // fail loudly on a Go mismatch instead of downloading a toolchain
    GOWORK: 'off',
    CGO_ENABLED: '0',
    GOFLAGS: '-buildvcs=false',
    GO111MODULE: 'on',
    ...extra,
  };
}

async function goVersionOf() {
  try {
    return (await run('go', ['version'], { env: goEnv(), timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(`helm: Go is not available on PATH (${err.message})`);
  }
}

/**
 * Downloads Helm's module metadata (fails fast, in the proxy's words, when it cannot be reached)
 * and returns the Kubernetes minor of the client-go Helm is built with, as Helm's Makefile derives
 * K8S_MODULES_MINOR_VER.
 */
async function kubeMinorOfHelm(dir) {
  let out;
  try {
    out = await run('go', ['mod', 'download', '-json', `${MODULE}@${HELM_VERSION}`], {
      cwd: dir,
      env: goEnv(),
      timeoutMs: 300_000,
    });
  } catch (err) {
    const json = /"Error":\s*"((?:[^"\\]|\\.)*)"/.exec(err.output ?? '')?.[1]?.replace(/\\"/g, '"');
    const reason = err.timedOut ? 'timed out' : (json ?? (lastLines(err.output, 2) || err.message));
    throw new Error(
      `helm: cannot fetch ${MODULE}@${HELM_VERSION} from the Go module proxy (GOPROXY=${process.env.GOPROXY ?? 'default'}): ${reason}`,
    );
  }
  const goMod = JSON.parse(out).GoMod;
  const minor = /k8s\.io\/client-go v0\.(\d+)\.\d+/.exec(readFileSync(goMod, 'utf8'))?.[1];
  if (!minor) throw new Error(`helm: ${MODULE}@${HELM_VERSION}'s go.mod names no k8s.io/client-go`);
  return minor;
}

async function build(dir, key, binary, goVersion, log) {
  log(
    `building Helm ${HELM_VERSION} from the Go module proxy (${goVersion}); a cold build takes minutes`,
  );
  const started = Date.now();
  const minor = await kubeMinorOfHelm(dir);
  const ldflags = [
    '-s -w',
    `-X ${MODULE}/internal/version.version=${HELM_VERSION}`,
    `-X ${MODULE}/internal/version.gitTreeState=clean`,
    `-X ${MODULE}/pkg/lint/rules.k8sVersionMajor=1 -X ${MODULE}/pkg/lint/rules.k8sVersionMinor=${minor}`,
    `-X ${MODULE}/pkg/chartutil.k8sVersionMajor=1 -X ${MODULE}/pkg/chartutil.k8sVersionMinor=${minor}`,
  ].join(' ');
  const staging = join(dir, `bin-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await run(
      'go',
      ['install', '-trimpath', '-ldflags', ldflags, `${MODULE}/cmd/helm@${HELM_VERSION}`],
      {
        cwd: dir,
        env: goEnv({ GOBIN: staging }),
        timeoutMs: 2_400_000,
        log,
        heartbeat: 'still compiling helm',
      },
    );
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `helm: go install of ${HELM_VERSION} failed: ${lastLines(err.output) || err.message}`,
    );
  }
  chmodSync(join(staging, 'helm'), 0o755);
  renameSync(join(staging, 'helm'), binary);
  rmSync(staging, { recursive: true, force: true });
  const version = await run(binary, ['version', '--short'], { timeoutMs: 30_000 });
  if (!version.startsWith(HELM_VERSION))
    throw new Error(`helm: the built binary reports ${version.trim()}, not ${HELM_VERSION}`);
  markDone(dir, key);
  log(`helm ${HELM_VERSION} ready in ${Math.round((Date.now() - started) / 1000)}s: ${binary}`);
}

/** Builds (or reuses) helm; returns the env var the chart tests read. */
export async function provision(log) {
  const goVersion = await goVersionOf();
  const key = hashInputs(HELM_VERSION, goVersion, 'helm-peer-v1');
  const dir = cacheDir('helm', `${HELM_VERSION}-${key}`);
  const binary = join(dir, 'helm');
  const cached = () => isDone(dir, key) && existsSync(binary);
  if (cached()) {
    log(`reusing cached helm ${HELM_VERSION} in ${dir}`);
    return { TESSERA_TEST_HELM: binary };
  }
  return withLock(
    dir,
    async () => {
      if (!cached()) await build(dir, key, binary, goVersion, log);
      return { TESSERA_TEST_HELM: binary };
    },
    { log },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  provision((line) => console.log(`[helm] ${line}`)).then(
    (env) => console.log(env.TESSERA_TEST_HELM),
    (err) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
