// Shared helpers for peer provisioning: hashing inputs, running a command with a bounded time and
// its output streamed to the peer's log, and a success marker written only after a build worked.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** sha256 over strings and/or file contents, as a short hex key for a cache folder. */
export function hashInputs(...parts) {
  const h = createHash('sha256');
  for (const part of parts) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** true when `dir` holds a marker written by markDone with the same key. */
export function isDone(dir, key) {
  const marker = join(dir, '.provisioned');
  return existsSync(marker) && readFileSync(marker, 'utf8').trim() === key;
}

export function markDone(dir, key) {
  writeFileSync(join(dir, '.provisioned'), `${key}\n`);
}

/**
 * Runs `cmd args` and resolves with its captured stdout+stderr. Each output line goes to `log`
 * when `stream` is set; otherwise only the tail is kept for the error message. Rejects on a
 * non-zero exit, on a spawn error (command missing) and after `timeoutMs` (the process is killed).
 */
export function run(
  cmd,
  args,
  { cwd, env, timeoutMs = 600_000, log, stream = false, heartbeat } = {},
) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new Error(`cannot start ${cmd}: ${err.message}`));
      return;
    }
    let output = '';
    const started = Date.now();
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (output.length > 200_000) output = output.slice(-100_000);
      if (stream && log) for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const beat =
      heartbeat && log
        ? setInterval(
            () => log(`${heartbeat} (${Math.round((Date.now() - started) / 1000)}s)`),
            30_000,
          )
        : undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      if (beat) clearInterval(beat);
    };
    child.on('error', (err) => {
      done();
      reject(new Error(`cannot start ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      if (code === 0) resolve(output);
      else {
        const err = new Error(
          timedOut
            ? `${cmd} ${args.join(' ')} timed out after ${Math.round(timeoutMs / 1000)}s`
            : `${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`,
        );
        err.output = output;
        err.timedOut = timedOut;
        reject(err);
      }
    });
  });
}

/** The last few non-empty lines of a command's output, for a one-line error reason. */
export function lastLines(output, n = 3) {
  return (output ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}

/**
 * Runs `fn` holding an exclusive lock on `dir` (a `.lock` folder holding the owner's pid), so two
 * test runs sharing the cache do not build into the same folder at once. A lock whose owner is
 * gone is taken over; waiting is bounded by `timeoutMs`.
 */
export async function withLock(dir, fn, { log, timeoutMs = 3_600_000 } = {}) {
  const lock = join(dir, '.lock');
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (!ownerAlive(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`timed out waiting for the lock ${lock}`);
      if (!announced && log) log(`waiting for another test run that is building in ${dir}`);
      announced = true;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function ownerAlive(lock) {
  let pid;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    // No pid yet: the owner is between mkdir and write, or died there; judge by the folder's age.
    try {
      return Date.now() - statSync(lock).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * The `--version` of the base interpreter `base`, checked against `supported` (a RegExp on
 * "Python 3.x.y"); a failure is one line prefixed with `label`, saying what is needed (`need`).
 */
export async function pythonBaseVersion(base, { label, supported, need }) {
  let version;
  try {
    version = (await run(base, ['--version'], { timeoutMs: 30_000 })).trim();
  } catch (err) {
    throw new Error(`${label}: ${base} is not available (${err.message}); set TESSERA_PYTHON_BASE`);
  }
  if (!supported.test(version)) throw new Error(`${label}: ${base} is ${version}; ${need}`);
  return version;
}

/** (Re)creates a virtualenv at `venv` with `base`; a failure is one line prefixed with `label`. */
export async function createVenv(base, venv, label) {
  rmSync(venv, { recursive: true, force: true });
  try {
    await run(base, ['-m', 'venv', venv], { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(
      `${label}: cannot create a virtualenv: ${lastLines(err.output) || err.message}`,
    );
  }
}

/** pip's messages that mean the package index could not be reached (as opposed to a bad pin). */
export const PIP_NETWORK_ERROR =
  /NewConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|Temporary failure in name resolution|Network is unreachable|Could not fetch URL|No matching distribution found|Could not find a version that satisfies/;

/**
 * `pip install -r requirements` into a virtualenv with bounded retries and timeouts, then the
 * `imports` statement as a smoke test, streaming
 * progress to `log`. On failure the half-built virtualenv is removed and the error says, in one
 * line prefixed with `label`, whether the index was unreachable or the install itself failed.
 */
export async function pipInstallRequirements({
  python,
  venv,
  requirements,
  imports,
  label,
  log,
  noDeps = false,
}) {
  const pipArgs = [
    '-m',
    'pip',
    'install',
    '--disable-pip-version-check',
    '--no-input',
    '--progress-bar',
    'off',
    '--retries',
    '2',
    '--timeout',
    '20',
    // A complete pinned list needs no resolving; it may then leave out what a package asks for
    // but never imports (test/peers/mlserver-huggingface/requirements.txt).
    ...(noDeps ? ['--no-deps'] : []),
    '-r',
    requirements,
  ];
  try {
    await run(python, pipArgs, {
      timeoutMs: 1_200_000,
      log,
      stream: true,
      heartbeat: 'still installing Python packages',
    });
  } catch (err) {
    const tail = lastLines(err.output, 1) || err.message;
    rmSync(venv, { recursive: true, force: true });
    if (err.timedOut || PIP_NETWORK_ERROR.test(err.output ?? '')) {
      const index = process.env.PIP_INDEX_URL
        ? ` (PIP_INDEX_URL=${process.env.PIP_INDEX_URL})`
        : '';
      throw new Error(
        `${label}: cannot reach the Python package index${index} to install ${requirements}: ${tail}`,
      );
    }
    throw new Error(`${label}: pip install -r ${requirements} failed: ${tail}`);
  }
  // A smoke import, so a venv that installed but cannot import is never marked done.
  try {
    await run(python, ['-c', imports], { timeoutMs: 120_000 });
  } catch (err) {
    throw new Error(
      `${label}: the virtualenv was installed but imports fail: ${lastLines(err.output, 1) || err.message}`,
    );
  }
}

/** The version apt would fetch for `pkg` (its candidate); '' when apt is not there or has none. */
export async function aptCandidate(pkg) {
  try {
    const policy = await run('apt-cache', ['policy', pkg], { timeoutMs: 60_000 });
    return /Candidate:\s*(\S+)/.exec(policy)?.[1] ?? '';
  } catch {
    return '';
  }
}

/**
 * Fetches the Debian package `pkg=version` with `apt-get download` (no root needed) and unpacks
 * it with `dpkg-deb -x` into `into` (replaced); the .deb itself is not kept. Rejects with a
 * one-line reason.
 */
export async function fetchDebInto(pkg, version, into) {
  const debDir = `${into}.deb-${process.pid}`;
  rmSync(debDir, { recursive: true, force: true });
  mkdirSync(debDir, { recursive: true });
  try {
    await run('apt-get', ['download', `${pkg}=${version}`], { cwd: debDir, timeoutMs: 300_000 });
    const file = readdirSync(debDir).find((f) => f.endsWith('.deb'));
    if (file === undefined) throw new Error('apt-get download wrote no .deb file');
    rmSync(into, { recursive: true, force: true });
    await run('dpkg-deb', ['-x', join(debDir, file), into], { timeoutMs: 60_000 });
  } catch (err) {
    throw new Error(
      `cannot fetch ${pkg}=${version} from the Debian archive: ${lastLines(err.output, 1) || err.message}`,
    );
  } finally {
    rmSync(debDir, { recursive: true, force: true });
  }
}
