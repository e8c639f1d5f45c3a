// Peer: a Python virtualenv with the official Triton clients (tritonclient[http,grpc]),
// onnxruntime, onnx, scikit-learn, skl2onnx, xgboost and lightgbm, pinned in test/peers/python/requirements.txt.
// Cached by a hash of that file and the interpreter's version; reused while both are unchanged.
// The base interpreter is `python3` on PATH, or TESSERA_PYTHON_BASE when set (Python 3.11 is what
// the pins were checked against). Returns { TESSERA_PYTHON: <venv>/bin/python }.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'python', 'requirements.txt');
const IMPORTS =
  'import tritonclient.http, tritonclient.grpc, onnxruntime, onnx, sklearn, skl2onnx, numpy, requests, xgboost, lightgbm';

function venvPython(venv) {
  return process.platform === 'win32'
    ? join(venv, 'Scripts', 'python.exe')
    : join(venv, 'bin', 'python');
}

function baseVersion(base) {
  return pythonBaseVersion(base, {
    label: 'python',
    supported: /^Python 3\.(1[1-9]|[2-9]\d)\./,
    need: 'the pinned requirements need Python >= 3.11',
  });
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const venv = await pinnedVenv({
    name: 'python',
    base,
    version: await baseVersion(base),
    requirements: requirementsPath,
    imports: IMPORTS,
    salt: 'python-peer-v1',
    ready: venvPython,
    describe: 'tritonclient, onnxruntime, onnx, scikit-learn, skl2onnx, xgboost, lightgbm',
    log,
  });
  return { TESSERA_PYTHON: venvPython(venv) };
}
