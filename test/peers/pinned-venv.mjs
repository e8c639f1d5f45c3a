// A Python virtualenv with pinned requirements in the test cache, shared by the Python peers
// (python, mlserver): keyed by a hash of the requirements file, the interpreter's version and
// a salt; reused while those are unchanged; built under a lock so concurrent runs build it once.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './cache.mjs';
import {
  hashInputs,
  isDone,
  lastLines,
  markDone,
  pipInstallRequirements,
  run,
  withLock,
} from './exec.mjs';

/**
 * Builds or reuses the virtualenv and resolves with its folder.
 * - `name`: the cache folder and the label of messages (`mlserver: ...`);
 * - `base`, `version`: the base interpreter and its `--version`;
 * - `requirements`, `imports`: the pinned file and a smoke import run after installing;
 * - `salt`: changes the key when the recipe changes;
 * - `ready(venv)`: the file whose presence means the virtualenv is usable;
 * - `describe`: what the install brings, for the progress line;
 * - `noDeps`: install exactly the pinned list (`pip --no-deps`): it must then be complete.
 */
export async function pinnedVenv({
  name,
  base,
  version,
  requirements,
  imports,
  salt,
  ready,
  describe,
  log,
  noDeps = false,
}) {
  const key = hashInputs(readFileSync(requirements), version, salt);
  const dir = cacheDir(name, key);
  const venv = join(dir, 'venv');
  const cached = () => isDone(dir, key) && existsSync(ready(venv));
  if (cached()) {
    log(`reusing cached virtualenv ${key} (${version})`);
    return venv;
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return venv;
      log(`creating a virtualenv with ${version} in the test cache (${key})`);
      rmSync(venv, { recursive: true, force: true });
      try {
        await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
      } catch (err) {
        throw new Error(
          `${name}: cannot create a virtualenv: ${lastLines(err.output) || err.message}`,
        );
      }
      log(`installing the pinned requirements (${describe})`);
      await pipInstallRequirements({
        python: join(venv, 'bin', 'python'),
        venv,
        requirements,
        imports,
        label: name,
        log,
        noDeps,
      });
      markDone(dir, key);
      log(`virtualenv ready: ${ready(venv)}`);
      return venv;
    },
    { log },
  );
}
