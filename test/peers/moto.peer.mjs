// Peer: moto's standalone server (`moto[server]`), a real S3-compatible HTTP endpoint, in its own
// virtualenv, pinned in test/peers/moto/requirements.txt. Cached by a hash of that file and the
// interpreter's version. Tests start it per suite on a free loopback port
// (test/support/moto-server.ts). Returns { TESSERA_MOTO_SERVER: <venv>/bin/moto_server }.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './exec.mjs';
import { pinnedVenv } from './pinned-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));

export async function provision(log) {
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const server = (venv) => join(venv, 'bin', 'moto_server');
  const venv = await pinnedVenv({
    name: 'moto',
    base,
    version: (await run(base, ['--version'], { timeoutMs: 30_000 })).trim(),
    requirements: join(here, 'moto', 'requirements.txt'),
    imports: 'import moto.server, flask, werkzeug',
    salt: 'moto-peer-v1',
    ready: server,
    describe: 'moto[server]',
    log,
  });
  return { TESSERA_MOTO_SERVER: server(venv) };
}
