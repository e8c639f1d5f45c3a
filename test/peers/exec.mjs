// Shared helpers for peer provisioning: hashing inputs, running a command with a bounded time and
// its output streamed to the peer's log, and a success marker written only after a build worked.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
    child.on('exit', (code, signal) => {
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
