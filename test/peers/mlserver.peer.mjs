// Peer: a Python virtualenv with the `mlserver` package from PyPI (its codecs, types and gRPC
// converters), pinned in test/peers/mlserver/requirements.txt. It is a virtualenv of its own, not
// part of python.peer.mjs: mlserver brings FastAPI, pandas, OpenTelemetry and Kafka clients, and
// keeping them apart leaves the main test environment (tritonclient, onnxruntime, the tree
// libraries) as it is. Cached by a hash of the requirements and the interpreter's version. The
// base interpreter is `python3` on PATH, or TESSERA_PYTHON_BASE (mlserver 1.7 needs 3.9–3.12).
// Returns { TESSERA_MLSERVER_PYTHON: <venv>/bin/python }.
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
const requirementsPath = join(here, 'mlserver', 'requirements.txt');
const IMPORTS =
  'import mlserver.codecs, mlserver.types, mlserver.grpc.converters, pandas, numpy, requests, grpc';

async function baseVersion(base) {
  let version;
  try {
    version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(`mlserver: ${base} is not available (${err.message}); set TESSERA_PYTHON_BASE`);
  }
  if (!/^Python 3\.(9|1[0-2])\./.test(version)) {
    throw new Error(`mlserver: ${base} is ${version}; mlserver 1.7 needs Python 3.9 to 3.12`);
  }
  return version;
}

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = await baseVersion(base);
  const key = hashInputs(readFileSync(requirementsPath), version, 'mlserver-peer-v1');
  const dir = cacheDir('mlserver', key);
  const venv = join(dir, 'venv');
  const python = join(venv, 'bin', 'python');
  const cached = () => isDone(dir, key) && existsSync(python);
  if (cached()) {
    log(`reusing cached virtualenv ${key} (${version})`);
    return { TESSERA_MLSERVER_PYTHON: python };
  }
  return withLock(
    dir,
    async () => {
      if (!cached()) {
        log(`creating a virtualenv with ${version} for mlserver in the test cache (${key})`);
        rmSync(venv, { recursive: true, force: true });
        try {
          await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
        } catch (err) {
          throw new Error(
            `mlserver: cannot create a virtualenv: ${lastLines(err.output) || err.message}`,
          );
        }
        log('installing the pinned requirements (mlserver and its dependencies)');
        await pipInstallRequirements({
          python,
          venv,
          requirements: requirementsPath,
          imports: IMPORTS,
          label: 'mlserver',
          log,
        });
        markDone(dir, key);
        log(`virtualenv ready: ${python}`);
      }
      return { TESSERA_MLSERVER_PYTHON: python };
    },
    { log },
  );
}
