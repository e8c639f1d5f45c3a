// Peer: a Python virtualenv with MLServer 1.7.1 and its HuggingFace runtime (mlserver-huggingface
// 1.7.1) from PyPI, pinned in test/peers/mlserver-huggingface/requirements.txt. Its python serves
// a tiny pipeline in Tessera's Python worker, and its `mlserver` command serves the same folder as
// the reference. A virtualenv of its own: mlserver_huggingface imports both torch and tensorflow
// at import time, so it needs both, ~6 GB installed, which no other test should wait for.
// PyPI has no CPU-only torch for Linux x86_64: its wheel links the CUDA runtime wheels (nvidia-*),
// which torch loads at import even on a machine without a GPU, so they are pinned too (~2.5 GB of
// the download); inference runs on the CPU. The list is installed with `--no-deps` so that
// tensorflow-cpu (230 MB) stands in for the tensorflow that mlserver-huggingface and tf-keras name
// (615 MB, the same TensorFlow with CUDA kernels), and torch's compiler (triton) is left out.
// Cached by a hash of the requirements and the interpreter's version; the base interpreter is
// `python3` on PATH, or TESSERA_PYTHON_BASE (mlserver 1.7 needs 3.9–3.12).
// Returns { TESSERA_MLSERVER_HUGGINGFACE_PYTHON: <venv>/bin/python } (`mlserver` is beside it).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** GBs of wheels to fetch and unpack: beside the pip and Go lanes (scripts/run-tests.mjs). */
export const provisionLane = 'frameworks';

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await pythonBaseVersion(base, {
    label: 'mlserver-huggingface',
    supported: /^Python 3\.(9|1[0-2])\./,
    need: 'mlserver 1.7 needs Python 3.9 to 3.12',
  });
  const venv = await pinnedVenv({
    name: 'mlserver-huggingface',
    base,
    version,
    requirements: join(here, 'mlserver-huggingface', 'requirements.txt'),
    imports: 'import mlserver, mlserver_huggingface, transformers, torch, tensorflow',
    salt: 'mlserver-huggingface-peer-v1',
    ready: (dir) => join(dir, 'bin', 'mlserver'),
    describe: 'mlserver 1.7.1, mlserver-huggingface, transformers, torch and tensorflow-cpu',
    noDeps: true,
    log,
  });
  return { TESSERA_MLSERVER_HUGGINGFACE_PYTHON: join(venv, 'bin', 'python') };
}
