// kwok (Kubernetes WithOut Kubelet) for benchmarks: simulated Nodes and Pods on the real control
// plane. Built once from the Go module proxy into the Tessera cache (not a test peer: only
// benchmarks use it, so a test run never pays for the build).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../test/peers/cache.mjs';
import { isDone, lastLines, markDone, run, withLock } from '../../test/peers/exec.mjs';

export const KWOK_VERSION = 'v0.8.0';

/**
 * kwok's own "fast" stages (what `kwokctl` installs by default): nodes turn Ready at once and
 * report a heartbeat; pods turn Running and Ready at once, complete and are deleted on request.
 * They ship in the module (kustomize/stage), so they come from the same download as the binary.
 */
const STAGES = [
  'node/fast/node-initialize.yaml',
  'node/heartbeat/node-heartbeat.yaml',
  'pod/fast/pod-ready.yaml',
  'pod/fast/pod-complete.yaml',
  'pod/fast/pod-delete.yaml',
];

/**
 * The kwok binary and a config file holding its default stages, built on first use (about 10
 * minutes on 2 cores). Returns { binary, config }.
 */
export async function ensureKwok(log = console.log) {
  const dir = cacheDir('kwok', KWOK_VERSION);
  const binary = join(dir, 'bin', 'kwok');
  const config = join(dir, 'stages.yaml');
  const result = { binary, config };
  const cached = () => isDone(dir, KWOK_VERSION) && existsSync(binary) && existsSync(config);
  if (cached()) return result;
  return withLock(
    dir,
    async () => {
      if (cached()) return result;
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
      const modules = (
        await run('go', ['env', 'GOMODCACHE'], { env: { ...process.env, GOTOOLCHAIN: 'local' } })
      ).trim();
      const stageDir = join(modules, `sigs.k8s.io/kwok@${KWOK_VERSION}`, 'kustomize', 'stage');
      writeFileSync(
        config,
        STAGES.map((file) => readFileSync(join(stageDir, file), 'utf8').trim()).join('\n---\n'),
      );
      markDone(dir, KWOK_VERSION);
      return result;
    },
    { log },
  );
}
