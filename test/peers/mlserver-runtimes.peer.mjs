// Peer: a Python virtualenv with MLServer 1.7.1 and two of its runtime packages from PyPI,
// mlserver-mlflow (with mlflow 2.22) and mlserver-catboost (with catboost), pinned in
// test/peers/mlserver-runtimes/requirements.txt. Its python serves the models in Tessera's Python
// worker, and its `mlserver` command serves the same folders as the reference the tests compare
// with. A virtualenv of its own, not part of mlserver.peer.mjs: mlflow 2.22 needs pandas < 3 (the
// mlserver peer has pandas 3), and it is ~1 GB that the other Python tests need not wait for.
// Cached by a hash of the requirements and the interpreter's version; the base interpreter is
// `python3` on PATH, or TESSERA_PYTHON_BASE (mlserver 1.7 needs 3.9–3.12).
// Returns { TESSERA_MLSERVER_RUNTIMES_PYTHON: <venv>/bin/python } (`mlserver` is beside it).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await pythonBaseVersion(base, {
    label: 'mlserver-runtimes',
    supported: /^Python 3\.(9|1[0-2])\./,
    need: 'mlserver 1.7 needs Python 3.9 to 3.12',
  });
  const venv = await pinnedVenv({
    name: 'mlserver-runtimes',
    base,
    version,
    requirements: join(here, 'mlserver-runtimes', 'requirements.txt'),
    imports:
      'import mlserver, mlserver_mlflow, mlserver_catboost, mlflow.sklearn, catboost, sklearn, pandas, requests, grpc',
    salt: 'mlserver-runtimes-peer-v1',
    ready: (dir) => join(dir, 'bin', 'mlserver'),
    describe: 'mlserver 1.7.1, mlserver-mlflow, mlserver-catboost, mlflow and catboost',
    log,
  });
  return { TESSERA_MLSERVER_RUNTIMES_PYTHON: join(venv, 'bin', 'python') };
}
