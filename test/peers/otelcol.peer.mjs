// Peer: a real OpenTelemetry Collector (OTLP receiver + file exporter) for the tracing tests.
// Built from the Go module proxy with the official collector builder (ocb) per the committed
// manifest test/peers/otelcol/builder-config.yaml; cached by a hash of the manifest and the Go
// version. Needs only Go on PATH; GOTOOLCHAIN=local so no toolchain is downloaded behind our back.
// Returns { TESSERA_OTELCOL: <path to the collector binary> }.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.mjs';
import { hashInputs, isDone, lastLines, markDone, run, withLock } from './exec.mjs';

/** Compiles Go: provisioned in the runner's Go lane, one build at a time (scripts/run-tests.mjs). */
export const provisionLane = 'go';

const here = dirname(fileURLToPath(import.meta.url));
const manifestPath = join(here, 'otelcol', 'builder-config.yaml');
const BINARY = 'otelcol-tessera';

function goEnv(extra = {}) {
  return {
    ...process.env,
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: '-buildvcs=false',
    ...extra,
  };
}

/** The builder's version is the release of the core components named in the manifest. */
function builderVersion(manifest) {
  const m = /otlpreceiver\s+(v\d+\.\d+\.\d+)/.exec(manifest);
  if (!m) throw new Error(`otelcol: no otlpreceiver version in ${manifestPath}`);
  return m[1];
}

async function manualBuild(src, log) {
  try {
    await run('go', ['mod', 'tidy', '-e'], { cwd: src, env: goEnv(), timeoutMs: 900_000, log });
    log('compiling the generated collector sources');
    await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', BINARY, '.'], {
      cwd: src,
      env: goEnv(),
      timeoutMs: 1_800_000,
      log,
      stream: true,
      heartbeat: 'still compiling the collector',
    });
  } catch (err) {
    throw new Error(
      `otelcol: go build of the collector failed: ${lastLines(err.output) || err.message}`,
    );
  }
}

async function goVersionOf() {
  try {
    return (await run('go', ['version'], { env: goEnv(), timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(`otelcol: Go is not available on PATH (${err.message})`);
  }
}

/** Fails fast, with the proxy's own words, when the Go module proxy cannot be reached. */
async function checkProxy(dir, version) {
  try {
    await run(
      'go',
      ['mod', 'download', '-json', `go.opentelemetry.io/collector/cmd/builder@${version}`],
      {
        cwd: dir,
        env: goEnv({ GO111MODULE: 'on' }),
        timeoutMs: 120_000,
      },
    );
  } catch (err) {
    const json = /"Error":\s*"((?:[^"\\]|\\.)*)"/.exec(err.output ?? '')?.[1]?.replace(/\\"/g, '"');
    const reason = err.timedOut ? 'timed out' : (json ?? (lastLines(err.output, 2) || err.message));
    const proxy = process.env.GOPROXY ?? 'default';
    throw new Error(
      `otelcol: cannot fetch go.opentelemetry.io/collector/cmd/builder@${version} from the Go module proxy (GOPROXY=${proxy}): ${reason}`,
    );
  }
}

async function installOcb(dir, version, log) {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  log('installing the collector builder (ocb)');
  try {
    await run('go', ['install', `go.opentelemetry.io/collector/cmd/builder@${version}`], {
      cwd: dir,
      env: goEnv({ GOBIN: bin }),
      timeoutMs: 600_000,
      log,
      heartbeat: 'still installing ocb',
    });
  } catch (err) {
    throw new Error(
      `otelcol: go install of ocb ${version} failed: ${lastLines(err.output) || err.message}`,
    );
  }
  return join(bin, 'builder');
}

/** Runs ocb in `work`; returns the path of the compiled collector. */
async function buildCollector(ocb, work, log) {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log('generating and compiling the collector distribution');
  try {
    await run(ocb, ['--config', manifestPath, '--ldflags=-s -w'], {
      cwd: work,
      env: goEnv(),
      timeoutMs: 1_800_000,
      log,
      stream: true,
      heartbeat: 'still compiling the collector',
    });
  } catch (err) {
    // ocb runs a strict `go mod tidy`, which also resolves the *test* imports of every component.
    // When a module only a component's tests need is missing from the proxy (seen with
    // fileexporter's test-only otlpencodingextension), tidy tolerantly and build the generated
    // sources ourselves: the collector binary itself does not need that module.
    if (
      !/failed to update go\.mod/.test(err.output ?? '') ||
      !existsSync(join(work, 'dist', 'go.mod'))
    ) {
      throw new Error(`otelcol: ocb build failed: ${lastLines(err.output) || err.message}`);
    }
    log(`ocb's go mod tidy failed (${lastLines(err.output, 1)}); retrying with go mod tidy -e`);
    await manualBuild(join(work, 'dist'), log);
  }
  const built = join(work, 'dist', BINARY);
  if (!existsSync(built)) throw new Error(`otelcol: the build finished but ${built} is missing`);
  return built;
}

async function verify(binary) {
  const out = await run(binary, ['components'], { timeoutMs: 30_000 }).catch((err) => {
    throw new Error(`otelcol: the built collector does not run: ${err.message}`);
  });
  if (!/name: file/.test(out) || !/name: otlp/.test(out)) {
    throw new Error('otelcol: the built collector lacks the otlp receiver or the file exporter');
  }
}

export async function provision(log) {
  const manifest = readFileSync(manifestPath);
  const version = builderVersion(manifest.toString());
  const goVersion = await goVersionOf();
  const key = hashInputs(manifest, goVersion, 'otelcol-peer-v1');
  const dir = cacheDir('otelcol', key);
  const binary = join(dir, BINARY);
  const cached = () => isDone(dir, key) && existsSync(binary);
  if (cached()) {
    log(`reusing cached collector ${key}`);
    return { TESSERA_OTELCOL: binary };
  }
  return withLock(
    dir,
    async () => {
      if (!cached()) await build(dir, key, version, goVersion, binary, log);
      return { TESSERA_OTELCOL: binary };
    },
    { log },
  );
}

async function build(dir, key, version, goVersion, binary, log) {
  log(
    `building the OpenTelemetry Collector with ocb ${version} (${goVersion}); this takes minutes`,
  );
  await checkProxy(dir, version);
  const ocb = await installOcb(dir, version, log);
  const work = join(dir, `work-${process.pid}`);
  const built = await buildCollector(ocb, work, log);
  copyFileSync(built, `${binary}.tmp`);
  chmodSync(`${binary}.tmp`, 0o755);
  renameSync(`${binary}.tmp`, binary);
  rmSync(work, { recursive: true, force: true });
  await verify(binary);
  markDone(dir, key);
  log(`collector ready: ${binary}`);
}
