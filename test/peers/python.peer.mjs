// Peer: a Python virtualenv with the official Triton clients (tritonclient[http,grpc]),
// onnxruntime, onnx, scikit-learn, skl2onnx, xgboost and lightgbm, pinned in test/peers/python/requirements.txt.
// Cached by a hash of that file and the interpreter's version; reused while both are unchanged.
// The base interpreter is `python3` on PATH, or TESSERA_PYTHON_BASE when set (Python 3.11 is what
// the pins were checked against). Returns { TESSERA_PYTHON: <venv>/bin/python }.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'python', 'requirements.txt');
const IMPORTS =
  'import tritonclient.http, tritonclient.grpc, onnxruntime, onnx, sklearn, skl2onnx, numpy, requests, xgboost, lightgbm';

function venvPython(venv) {
  return process.platform === 'win32'
    ? join(venv, 'Scripts', 'python.exe')
    : join(venv, 'bin', 'python');
}

async function baseVersion(base) {
  let version;
  try {
    version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(`python: ${base} is not available (${err.message}); set TESSERA_PYTHON_BASE`);
  }
  if (!/^Python 3\.(1[1-9]|[2-9]\d)\./.test(version)) {
    throw new Error(`python: ${base} is ${version}; the pinned requirements need Python >= 3.11`);
  }
  return version;
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await baseVersion(base);
  const requirements = readFileSync(requirementsPath);
  const key = hashInputs(requirements, version, 'python-peer-v1');
  const dir = cacheDir('python', key);
  const venv = join(dir, 'venv');
  const python = venvPython(venv);
  const cached = () => isDone(dir, key) && existsSync(python);
  if (cached()) {
    log(`reusing cached virtualenv ${key} (${version})`);
    return { TESSERA_PYTHON: python };
  }
  return withLock(
    dir,
    async () => {
      if (!cached()) await build({ base, version, key, dir, venv, python }, log);
      return { TESSERA_PYTHON: python };
    },
    { log },
  );
}

async function build({ base, version, key, dir, venv, python }, log) {
  log(`creating a virtualenv with ${version} in the test cache (${key})`);
  rmSync(venv, { recursive: true, force: true });
  try {
    await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(`python: cannot create a virtualenv: ${lastLines(err.output) || err.message}`);
  }

  log(
    'installing the pinned requirements (tritonclient, onnxruntime, onnx, scikit-learn, skl2onnx, xgboost, lightgbm)',
  );
  await pipInstallRequirements({
    python,
    venv,
    requirements: requirementsPath,
    imports: IMPORTS,
    label: 'python',
    log,
  });
  markDone(dir, key);
  log(`virtualenv ready: ${python}`);
}
