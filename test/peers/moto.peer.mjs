// Peer: moto's standalone server (`moto[server]`), a real S3-compatible HTTP endpoint, in its own
// virtualenv with the AWS CLI a user would upload a model with, pinned in
// test/peers/moto/requirements.txt. Cached by a hash of that file and the
// interpreter's version. Tests start it per suite on a free loopback port
// (test/support/moto-server.ts). Returns { TESSERA_MOTO_SERVER: <venv>/bin/moto_server,
// TESSERA_AWS_CLI: <venv>/bin/aws }.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.mjs';
import {
  createVenv,
  hashInputs,
  isDone,
  markDone,
  pipInstallRequirements,
  run,
  withLock,
} from './exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'moto', 'requirements.txt');

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  const key = hashInputs(readFileSync(requirementsPath), version, 'moto-peer-v1');
  const dir = cacheDir('moto', key);
  const venv = join(dir, 'venv');
  const server = join(venv, 'bin', 'moto_server');
  const aws = join(venv, 'bin', 'aws');
  const outputs = { TESSERA_MOTO_SERVER: server, TESSERA_AWS_CLI: aws };
  const cached = () => isDone(dir, key) && existsSync(server) && existsSync(aws);
  if (cached()) {
    log(`reusing cached moto server ${key} (${version})`);
    return outputs;
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return outputs;
      log(`creating a virtualenv for moto[server] with ${version} (${key})`);
      await createVenv(base, venv, 'moto');
      await pipInstallRequirements({
        python: join(venv, 'bin', 'python'),
        venv,
        requirements: requirementsPath,
        imports: 'import moto.server, flask, werkzeug, awscli',
        label: 'moto',
        log,
      });
      markDone(dir, key);
      log(`moto server ready: ${server}`);
      return outputs;
    },
    { log },
  );
}
