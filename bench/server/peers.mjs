// Peers of the server benchmark, provisioned idempotently and cached outside the repository
// (test/peers/cache.mjs): a Python virtualenv with MLServer 1.7.1 + mlserver-sklearn pinned in
// bench/server/requirements.txt, keyed by a hash of that file and the interpreter's version; and
// the `wrk` load generator, which must already be installed (Debian package `wrk`).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../test/peers/cache.mjs';
import {
  hashInputs,
  isDone,
  lastLines,
  markDone,
  pipInstallRequirements,
  pythonBaseVersion,
  run,
  withLock,
} from '../../test/peers/exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'requirements.txt');
const IMPORTS = 'import mlserver, mlserver_sklearn, sklearn, joblib, numpy';

function baseVersion(base) {
  return pythonBaseVersion(base, {
    label: 'mlserver peer',
    supported: /^Python 3\.(1[1-9])\./,
    need: 'the pins were checked on Python 3.11',
  });
}

/** Returns { python, mlserver, version } for the cached MLServer virtualenv, building it once. */
export async function provisionMlserver(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await baseVersion(base);
  const key = hashInputs(readFileSync(requirementsPath), version, 'mlserver-peer-v1');
  const dir = cacheDir('mlserver', key);
  const venv = join(dir, 'venv');
  const python = join(venv, 'bin', 'python');
  const result = { python, mlserver: join(venv, 'bin', 'mlserver'), version };
  const cached = () => isDone(dir, key) && existsSync(python);
  if (cached()) {
    log(`reusing the cached MLServer virtualenv ${key} (${version})`);
    return result;
  }
  return withLock(
    dir,
    async () => {
      if (!cached()) await build({ base, version, key, dir, venv, python }, log);
      return result;
    },
    { log },
  );
}

async function build({ base, version, key, dir, venv, python }, log) {
  log(`creating a virtualenv with ${version} in the cache (${key})`);
  rmSync(venv, { recursive: true, force: true });
  try {
    await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(
      `mlserver peer: cannot create a virtualenv: ${lastLines(err.output) || err.message}`,
    );
  }
  log('installing mlserver 1.7.1, mlserver-sklearn and their pinned dependencies (about a minute)');
  await pipInstallRequirements({
    python,
    venv,
    requirements: requirementsPath,
    imports: IMPORTS,
    label: 'mlserver peer',
    log,
  });
  markDone(dir, key);
  log(`MLServer virtualenv ready (${key})`);
}

/** Resolves the path of `wrk`, or throws with the command that installs it. */
export async function findWrk() {
  const wrk = process.env.BENCH_WRK ?? 'wrk';
  try {
    await run('sh', ['-c', `command -v ${wrk}`], { timeoutMs: 10_000 });
  } catch {
    throw new Error(
      `the load generator wrk is not installed: run \`apt-get install -y wrk\` (Debian/Ubuntu), or set BENCH_WRK to its path`,
    );
  }
  const out = await run(wrk, ['--version'], { timeoutMs: 10_000 }).catch((err) => err.output ?? '');
  return { wrk, version: (out.split('\n')[0] ?? '').replace(/\s*Copyright.*$/, '').trim() };
}
