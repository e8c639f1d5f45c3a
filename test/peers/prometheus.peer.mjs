// Peer: a real Prometheus server for the autoscaling e2e test (it scrapes the server pods the e2e
// harness runs and answers KEDA's queries). Debian's `prometheus` package, fetched with
// `apt-get download` and unpacked with `dpkg-deb -x` (no root, nothing installed system-wide), as
// the perf-analyzer peer fetches libb64. The binary needs only libc. Cached by the package version.
// Returns { TESSERA_PROMETHEUS: <path to the prometheus binary> }.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './cache.mjs';
import {
  aptCandidate,
  fetchDebInto,
  hashInputs,
  isDone,
  lastLines,
  markDone,
  run,
  withLock,
} from './exec.mjs';

/** Debian bookworm's package; apt's candidate must be this version (part of the cache key). */
export const PROMETHEUS_DEB = 'prometheus';
export const PROMETHEUS_VERSION = '2.42.0+ds-5+deb12u1';

export async function provision(log) {
  if (process.platform !== 'linux') throw new Error('prometheus: the Debian package needs Linux');
  const key = hashInputs(PROMETHEUS_VERSION, process.arch, 'prometheus-peer-v1');
  const dir = cacheDir('prometheus', key);
  const binary = join(dir, 'root', 'usr', 'bin', 'prometheus');
  const result = () => ({ TESSERA_PROMETHEUS: binary });
  const cached = () => isDone(dir, key) && existsSync(binary);
  if (cached()) {
    log(`reusing cached Prometheus ${PROMETHEUS_VERSION}`);
    return result();
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return result();
      const offered = await aptCandidate(PROMETHEUS_DEB);
      if (offered === '')
        throw new Error(
          `prometheus: apt-cache has no candidate for ${PROMETHEUS_DEB} (Debian/Ubuntu with apt needed; run apt-get update)`,
        );
      log(
        `fetching ${PROMETHEUS_DEB} ${PROMETHEUS_VERSION} with apt-get download (no root needed)`,
      );
      try {
        await fetchDebInto(PROMETHEUS_DEB, PROMETHEUS_VERSION, join(dir, 'root'));
      } catch (err) {
        throw new Error(`prometheus: ${err.message} (apt offers ${offered})`);
      }
      const version = await run(binary, ['--version'], { timeoutMs: 30_000 }).catch((err) => {
        throw new Error(`prometheus: the binary does not start: ${lastLines(err.output, 1)}`);
      });
      markDone(dir, key);
      log(`Prometheus ready: ${version.split('\n')[0]}`);
      return result();
    },
    { log },
  );
}
