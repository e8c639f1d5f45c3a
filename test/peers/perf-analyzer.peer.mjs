// Peer: Triton's perf_analyzer, the binary the tritonclient 2.40.0 wheel ships, in its own
// virtualenv (test/peers/perf-analyzer/requirements.txt: the wheel and PyPI's CUDA runtime, whose
// libcudart.so.12 it links even on CPU), plus Debian's libb64.so.0d, fetched without root with
// `apt-get download` and unpacked with `dpkg-deb -x` into the cache. Cached by a hash of the
// requirements, the interpreter's version and the Debian package's candidate version.
// Returns { TESSERA_PERF_ANALYZER: <binary>, TESSERA_PERF_ANALYZER_LIBS: <LD_LIBRARY_PATH> }.
// The first (cold) provisioning time is logged and kept in <cache>/provision-seconds.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.mjs';
import {
  aptCandidate,
  fetchDebInto,
  hashInputs,
  isDone,
  lastLines,
  markDone,
  pipInstallRequirements,
  run,
  withLock,
} from './exec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const requirementsPath = join(here, 'perf-analyzer', 'requirements.txt');
const DEB = 'libb64-0d';

function paths(dir) {
  const venv = join(dir, 'venv');
  const lib = join(dir, 'libb64', 'usr', 'lib', 'x86_64-linux-gnu');
  return { venv, lib, binary: join(venv, 'bin', 'perf_analyzer') };
}

/** The folder holding libcudart.so.12 inside the virtualenv. */
function cudartDir(venv) {
  const libRoot = join(venv, 'lib');
  const python = readdirSync(libRoot).find((d) => d.startsWith('python'));
  return join(libRoot, python ?? 'python3', 'site-packages', 'nvidia', 'cuda_runtime', 'lib');
}

export async function provision(log) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      'perf-analyzer: the tritonclient 2.40.0 wheel ships perf_analyzer for linux x86_64 only',
    );
  }
  const base = process.env.TESSERA_PYTHON_BASE ?? 'python3';
  const version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  const deb = await aptCandidate(DEB);
  if (deb === '') {
    throw new Error(
      `perf-analyzer: apt-cache has no candidate for ${DEB} (Debian/Ubuntu with apt needed to fetch libb64.so.0d)`,
    );
  }
  const key = hashInputs(readFileSync(requirementsPath), version, deb, 'perf-analyzer-peer-v1');
  const dir = cacheDir('perf-analyzer', key);
  const { venv, lib, binary } = paths(dir);
  const result = () => ({
    TESSERA_PERF_ANALYZER: binary,
    TESSERA_PERF_ANALYZER_LIBS: `${lib}:${cudartDir(venv)}`,
  });
  const cached = () =>
    isDone(dir, key) && existsSync(binary) && existsSync(join(lib, 'libb64.so.0d'));
  if (cached()) {
    log(`reusing cached perf_analyzer ${key}`);
    return result();
  }
  return withLock(
    dir,
    async () => {
      if (cached()) return result();
      const started = Date.now();
      log(
        `fetching ${DEB} ${deb} with apt-get download (no root needed) into the test cache (${key})`,
      );
      try {
        await fetchDebInto(DEB, deb, join(dir, 'libb64'));
      } catch (err) {
        throw new Error(`perf-analyzer: ${err.message}`);
      }
      log(`creating a virtualenv for tritonclient 2.40.0 (perf_analyzer) with ${version}`);
      rmSync(venv, { recursive: true, force: true });
      try {
        await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
      } catch (err) {
        throw new Error(
          `perf-analyzer: cannot create a virtualenv: ${lastLines(err.output) || err.message}`,
        );
      }
      await pipInstallRequirements({
        python: join(venv, 'bin', 'python'),
        venv,
        requirements: requirementsPath,
        imports: 'import tritonclient',
        label: 'perf-analyzer',
        log,
      });
      // A smoke run: every library resolves and the binary starts.
      try {
        await run(binary, ['--version'], {
          timeoutMs: 60_000,
          env: { ...process.env, LD_LIBRARY_PATH: result().TESSERA_PERF_ANALYZER_LIBS },
        });
      } catch (err) {
        throw new Error(
          `perf-analyzer: the binary does not start: ${lastLines(err.output, 1) || err.message}`,
        );
      }
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      writeFileSync(join(dir, 'provision-seconds'), `${seconds}\n`);
      markDone(dir, key);
      log(`perf_analyzer ready in ${seconds}s (cold): ${binary}`);
      return result();
    },
    { log },
  );
}
