// The Triton peer of the server benchmark: a virtualenv in the test cache (test/peers/pinned-venv.mjs)
// with nvidia-pytriton pinned in bench/server/triton-requirements.txt. The wheel carries a
// standalone `tritonserver` (2.51.0, CPU, python backend only) and one python-backend stub per
// Python version; the backend looks for the stub next to libtriton_python.so, so the stub for the
// virtualenv's Python is copied there once (PyTriton does the same when it starts a server).
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion, run } from '../../test/peers/exec.mjs';
import { pinnedVenv } from '../../test/peers/pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirements = join(here, 'triton-requirements.txt');

/** Paths inside the installed wheel (site-packages/pytriton/tritonserver). */
async function wheelPaths(python) {
  const out = await run(
    python,
    [
      '-c',
      'import json, sys, sysconfig, pytriton, importlib.metadata as m; print(json.dumps({' +
        '"root": pytriton.__path__[0], "py": "%d.%d" % sys.version_info[:2],' +
        '"libdir": sysconfig.get_config_var("LIBDIR"),' +
        '"shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),' +
        '"pytriton": m.version("nvidia-pytriton")}))',
    ],
    { timeoutMs: 60_000 },
  );
  const facts = JSON.parse(out.trim().split('\n').pop());
  const server = join(facts.root, 'tritonserver');
  return {
    ...facts,
    tritonserver: join(server, 'bin', 'tritonserver'),
    backends: join(server, 'backends'),
    stub: join(server, 'python_backend_stubs', facts.py, 'triton_python_backend_stub'),
  };
}

/**
 * Builds or reuses the virtualenv; resolves with { tritonserver, backends, env, pytriton } where
 * `env` is what the server process needs: the virtualenv's bin first on PATH (the stub's models
 * import its numpy) and the interpreter's libpython on LD_LIBRARY_PATH (the stub links it).
 */
export async function provisionTriton(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await pythonBaseVersion(base, {
    label: 'triton peer',
    supported: /^Python 3\.(8|9|1[0-3])\./,
    need: 'nvidia-pytriton 0.5.14 ships python-backend stubs for Python 3.8 to 3.13',
  });
  const venv = await pinnedVenv({
    name: 'triton',
    base,
    version,
    requirements,
    imports: 'import pytriton, numpy',
    salt: 'triton-peer-v1',
    ready: (dir) => join(dir, 'bin', 'python'),
    describe: 'nvidia-pytriton 0.5.14 (tritonserver 2.51.0, about 55 MB) and numpy',
    log,
  });
  const p = await wheelPaths(join(venv, 'bin', 'python'));
  if (!existsSync(p.tritonserver) || !existsSync(p.stub)) {
    throw new Error(
      `triton peer: nvidia-pytriton ${p.pytriton} has no tritonserver or no python-backend stub for Python ${p.py}`,
    );
  }
  if (!p.shared) {
    throw new Error(
      `triton peer: ${version} was built without a shared libpython, which the python-backend stub links; set TESSERA_PYTHON_BASE to one built with --enable-shared`,
    );
  }
  const placed = join(p.backends, 'python', 'triton_python_backend_stub');
  if (!existsSync(placed)) {
    log(`placing the python-backend stub for Python ${p.py} next to libtriton_python.so`);
    // Copied then renamed, so a concurrent run never starts a half-written stub.
    copyFileSync(p.stub, `${placed}.${process.pid}`);
    renameSync(`${placed}.${process.pid}`, placed);
  }
  const env = {
    PATH: `${join(venv, 'bin')}:${process.env.PATH ?? ''}`,
    LD_LIBRARY_PATH: [p.libdir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
  return { tritonserver: p.tritonserver, backends: p.backends, env, pytriton: p.pytriton };
}
