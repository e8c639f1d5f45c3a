// Peer: a Python virtualenv with the `mlserver` package from PyPI (its codecs, types and gRPC
// converters, and mlserver-sklearn with scikit-learn for the Python worker's tests), pinned in test/peers/mlserver/requirements.txt. It is a virtualenv of its own, not
// part of python.peer.mjs: mlserver brings FastAPI, pandas, OpenTelemetry and Kafka clients, and
// keeping them apart leaves the main test environment (tritonclient, onnxruntime, the tree
// libraries) as it is. Cached by a hash of the requirements and the interpreter's version. The
// base interpreter is `python3` on PATH, or TESSERA_PYTHON_BASE (mlserver 1.7 needs 3.9–3.12).
// Returns { TESSERA_MLSERVER_PYTHON: <venv>/bin/python }.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function baseVersion(base) {
  return pythonBaseVersion(base, {
    label: 'mlserver',
    supported: /^Python 3\.(9|1[0-2])\./,
    need: 'mlserver 1.7 needs Python 3.9 to 3.12',
  });
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const venv = await pinnedVenv({
    name: 'mlserver',
    base,
    version: await baseVersion(base),
    requirements: join(here, 'mlserver', 'requirements.txt'),
    imports:
      'import mlserver.codecs, mlserver.types, mlserver.grpc.converters, mlserver_sklearn, sklearn, joblib, pandas, numpy, requests, grpc',
    salt: 'mlserver-peer-v1',
    ready: (dir) => join(dir, 'bin', 'python'),
    describe: 'mlserver and its dependencies',
    log,
  });
  return { TESSERA_MLSERVER_PYTHON: join(venv, 'bin', 'python') };
}
