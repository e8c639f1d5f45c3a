// Peer: a Python virtualenv with MLServer 1.7.1 and its Alibi runtimes (mlserver-alibi-detect and
// mlserver-alibi-explain 1.6.1, the latest) from PyPI, pinned in
// test/peers/mlserver-alibi/requirements.txt. Its python serves a drift detector and an anchor
// explainer in Tessera's Python worker, and its `mlserver` command serves the same folders as the
// reference. A virtualenv of its own: both runtimes pin pydantic 2.7.1, and alibi-detect and alibi
// need numpy < 2 and TensorFlow, which the other Python peers do not take. Installed with
// `--no-deps` so that tensorflow-cpu stands in for tensorflow (see the requirements' header).
// Cached by a hash of the requirements and the interpreter's version; the base interpreter is
// `python3` on PATH, or TESSERA_PYTHON_BASE (the Alibi runtimes 1.6.1 need 3.9–3.11).
// Returns { TESSERA_MLSERVER_ALIBI_PYTHON: <venv>/bin/python } (`mlserver` is beside it).
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
    label: 'mlserver-alibi',
    supported: /^Python 3\.(9|1[01])\./,
    need: 'the Alibi runtimes 1.6.1 need Python 3.9 to 3.11',
  });
  const venv = await pinnedVenv({
    name: 'mlserver-alibi',
    base,
    version,
    requirements: join(here, 'mlserver-alibi', 'requirements.txt'),
    imports:
      'import mlserver, mlserver_alibi_detect, mlserver_alibi_explain, alibi_detect.cd, alibi.explainers, tensorflow',
    salt: 'mlserver-alibi-peer-v1',
    ready: (dir) => join(dir, 'bin', 'mlserver'),
    describe:
      'mlserver 1.7.1, mlserver-alibi-detect, mlserver-alibi-explain, alibi-detect, alibi and tensorflow-cpu',
    noDeps: true,
    log,
  });
  return { TESSERA_MLSERVER_ALIBI_PYTHON: join(venv, 'bin', 'python') };
}
