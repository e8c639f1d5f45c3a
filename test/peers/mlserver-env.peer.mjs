// Peer: packed Python environments for `parameters.environment_tarball` (docs/python-runtimes.md).
// A virtualenv with an OLDER MLServer stack (mlserver and mlserver-sklearn 1.6.1, scikit-learn
// 1.5.2, pinned in test/peers/mlserver-env/requirements.txt, against the mlserver peer's 1.7.1
// and 1.9.1), packed with venv-pack (installed in it) into `old-sklearn.tar.gz`, and a bare
// virtualenv without mlserver packed into `no-mlserver.tar.gz` (the worker's import failure).
// conda-pack needs conda, which cannot be installed here, so only venv-pack tarballs are built.
// Cached with the virtualenv (keyed by the requirements, the interpreter's version and a salt):
// the tarballs are packed once, under the same lock, with their own marker.
// Returns { TESSERA_MLSERVER_ENV_PYTHON: <venv>/bin/python (to train models with the old
// scikit-learn), TESSERA_MLSERVER_ENV_TARBALL, TESSERA_NO_MLSERVER_ENV_TARBALL }.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastLines, run, withLock } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SALT = 'mlserver-env-peer-v1';

async function baseVersion(base) {
  let version;
  try {
    version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(
      `mlserver-env: ${base} is not available (${err.message}); set TESSERA_PYTHON_BASE`,
    );
  }
  if (!/^Python 3\.(9|1[0-2])\./.test(version)) {
    throw new Error(`mlserver-env: ${base} is ${version}; mlserver 1.6 needs Python 3.9 to 3.12`);
  }
  return version;
}

/** `python -m venv_pack` of `prefix` into `out` (written beside, then renamed). */
async function pack(python, prefix, out, log) {
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  log(`packing ${prefix} with venv-pack`);
  try {
    // Level 1: the tarball is unpacked by the tests on this machine; speed over size.
    await run(
      python,
      [
        '-m',
        'venv_pack',
        '-p',
        prefix,
        '-o',
        partial,
        '--format',
        'tar.gz',
        '--compress-level',
        '1',
        '-q',
      ],
      { timeoutMs: 600_000 },
    );
  } catch (err) {
    throw new Error(`mlserver-env: venv-pack failed: ${lastLines(err.output) || err.message}`);
  }
  renameSync(partial, out);
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await baseVersion(base);
  const venv = await pinnedVenv({
    name: 'mlserver-env',
    base,
    version,
    requirements: join(here, 'mlserver-env', 'requirements.txt'),
    imports: 'import mlserver, mlserver.settings, mlserver_sklearn, sklearn, joblib, venv_pack',
    salt: SALT,
    ready: (dir) => join(dir, 'bin', 'python'),
    describe: 'mlserver 1.6.1, scikit-learn 1.5.2 and venv-pack',
    log,
  });
  const dir = dirname(venv);
  const python = join(venv, 'bin', 'python');
  const old = join(dir, 'old-sklearn.tar.gz');
  const bare = join(dir, 'no-mlserver.tar.gz');
  const marker = join(dir, '.packed');
  const key = `${readFileSync(join(dir, '.provisioned'), 'utf8').trim()}:${SALT}`;
  const packed = () =>
    existsSync(marker) &&
    readFileSync(marker, 'utf8').trim() === key &&
    existsSync(old) &&
    existsSync(bare);
  if (!packed()) {
    await withLock(
      dir,
      async () => {
        if (packed()) return;
        await pack(python, venv, old, log);
        const bareVenv = join(dir, 'bare');
        rmSync(bareVenv, { recursive: true, force: true });
        await run(base, ['-m', 'venv', '--without-pip', bareVenv], { timeoutMs: 120_000 });
        await pack(python, bareVenv, bare, log);
        writeFileSync(marker, `${key}\n`);
      },
      { log },
    );
  } else log('reusing the packed environments');
  return {
    TESSERA_MLSERVER_ENV_PYTHON: python,
    TESSERA_MLSERVER_ENV_TARBALL: old,
    TESSERA_NO_MLSERVER_ENV_TARBALL: bare,
  };
}
