// Peer: older XGBoost releases, for the test that serves models they wrote
// (test/integration/server/xgboost-versions.test.ts). Every release imports as `xgboost`, so each
// has a virtualenv of its own, pinned in test/peers/xgboost-versions/requirements-<release>.txt
// and cached by a hash of that file and the interpreter's version (the main Python peer carries
// the current release, xgboost-cpu 3.2). The base interpreter is `python3` on PATH, or
// TESSERA_PYTHON_BASE (the pins were checked on Python 3.11; xgboost 1.7's wheels stop at 3.12
// for numpy 1.26). Returns { TESSERA_XGBOOST_1_7_PYTHON, TESSERA_XGBOOST_2_1_PYTHON }.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonBaseVersion } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** The releases provisioned: the requirements file's suffix and the env var that names its python. */
export const RELEASES = [
  { release: '1.7', env: 'TESSERA_XGBOOST_1_7_PYTHON' },
  { release: '2.1', env: 'TESSERA_XGBOOST_2_1_PYTHON' },
];

function baseVersion(base) {
  return pythonBaseVersion(base, {
    label: 'xgboost-versions',
    supported: /^Python 3\.1[1-2]\./,
    need: 'the pinned numpy 1.26 needs Python 3.11 or 3.12',
  });
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await baseVersion(base);
  const env = {};
  for (const { release, env: name } of RELEASES) {
    const venv = await pinnedVenv({
      name: `xgboost-${release}`,
      base,
      version,
      requirements: join(here, 'xgboost-versions', `requirements-${release}.txt`),
      imports: `import xgboost, sklearn, numpy; assert xgboost.__version__.startswith("${release}."), xgboost.__version__`,
      salt: 'xgboost-versions-peer-v1',
      ready: (dir) => join(dir, 'bin', 'python'),
      describe: `xgboost ${release}, scikit-learn, numpy`,
      log,
    });
    env[name] = join(venv, 'bin', 'python');
  }
  return env;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  provision((line) => console.log(`[xgboost-versions] ${line}`)).then(
    (env) => console.log(JSON.stringify(env)),
    (err) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
