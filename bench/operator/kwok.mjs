// kwok (Kubernetes WithOut Kubelet) for benchmarks: simulated Nodes and Pods on the real control
// plane. Built once from the Go module proxy into the Tessera cache (not a test peer: only
// benchmarks use it, so a test run never pays for the build).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../test/peers/cache.mjs';
import { isDone, lastLines, markDone, run, withLock } from '../../test/peers/exec.mjs';

export const KWOK_VERSION = 'v0.8.0';

/** The kwok binary, built on first use (about 10 minutes on 2 cores). */
export async function ensureKwok(log = console.log) {
  const dir = cacheDir('kwok', KWOK_VERSION);
  const binary = join(dir, 'bin', 'kwok');
  const cached = () => isDone(dir, KWOK_VERSION) && existsSync(binary);
  if (cached()) return binary;
  return withLock(
    dir,
    async () => {
      if (cached()) return binary;
      log(`building kwok ${KWOK_VERSION} from the Go module proxy (once; about 10 minutes)`);
      try {
        await run('go', ['install', `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`], {
          env: { ...process.env, GOBIN: join(dir, 'bin'), GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
          timeoutMs: 3_600_000,
          log,
          heartbeat: 'still building kwok',
        });
      } catch (err) {
        throw new Error(`kwok: go install failed: ${lastLines(err.output) || err.message}`);
      }
      markDone(dir, KWOK_VERSION);
      return binary;
    },
    { log },
  );
}
