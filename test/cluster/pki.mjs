// Test certificates with the openssl CLI (Node's crypto makes keys but no X.509 certificates):
// a CA, and leaf certificates it signs, for the apiserver's front proxy (API aggregation) and for
// the peers that talk mTLS among themselves (KEDA's operator and metrics adapter).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args, what) {
  const res = spawnSync('openssl', args, { encoding: 'utf8' });
  if (res.error)
    throw new Error(
      `${what}: cannot run openssl (needed for test certificates): ${res.error.message}`,
    );
  if (res.status !== 0) throw new Error(`${what}: openssl ${args[0]} failed: ${res.stderr.trim()}`);
}

/** A self-signed CA valid for a day: `{ cert, key }` file paths in `dir`. */
export function makeCa(dir, name) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ],
    `CA ${name}`,
  );
  return { cert, key };
}

/**
 * A leaf certificate signed by `ca`, for `usage` ('clientAuth', 'serverAuth' or both, comma
 * separated) with the given subject alternative names (`IP:127.0.0.1`, `DNS:localhost`).
 * Returns `{ cert, key }` file paths in `dir`.
 */
export function issueCert(dir, ca, name, { cn = name, usage, sans = [] }) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n') + '\n',
  );
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`],
    `key for ${name}`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ],
    `certificate for ${name}`,
  );
  return { cert, key };
}
