// Environments (server/src/runtime/python/environments.ts): unpacking environment tarballs once
// per content hash, safely and within bounds, with reasons in the user's terms. The tarballs are
// crafted (test/support/archives.ts); the real venv-pack ones are in the integration test.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  Environments,
  READY_MARKER,
  toRemove,
} from '../../../server/src/runtime/python/environments.js';
import { ServerError } from '../../../server/src/errors.js';
import { tarGz, type TarEntry } from '../../support/archives.js';

interface Line {
  msg: string;
  environment?: string;
}

/** A python3 on PATH, for bin/python links (the interpreter links may point outside). */
const PYTHON3 = execFileSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).trim();

/** A minimal environment: bin/python (a link to the base interpreter) and one module. */
const ENV: TarEntry[] = [
  { name: 'bin/', type: 'directory' },
  { name: 'bin/python3', type: 'symlink', linkname: PYTHON3 },
  { name: 'bin/python', type: 'symlink', linkname: 'python3' },
  { name: 'lib/mod.py', content: Buffer.from('X = 1\n') },
];

describe('Environments (environment tarballs)', () => {
  let dir: string;
  let lines: Line[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-envs-'));
    lines = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function environments(
    limits: { maxBytes?: number; maxEntries?: number; cacheBytes?: number } = {},
  ): Environments {
    const log = (obj: object, msg: string): void => {
      lines.push({ ...(obj as Line), msg });
    };
    return new Environments({
      dir: join(dir, 'envs'),
      maxBytes: limits.maxBytes ?? 1024 * 1024,
      maxEntries: limits.maxEntries ?? 100,
      cacheBytes: limits.cacheBytes,
      logger: { info: log, warn: log, error: log, debug: log },
    });
  }

  async function tarball(entries: readonly TarEntry[], name = 'env.tar.gz'): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, await tarGz(entries));
    return file;
  }

  async function refusal(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ServerError, String(error));
    assert.equal(error.code, 'SRV_ERR_MODEL_LOAD_FAILED');
    return error.message;
  }

  it('unpacks into environments_dir/<sha256> whose bin/python runs', async () => {
    const file = await tarball(ENV);
    const root = await environments().prepare(file, 'env.tar.gz');
    const hash = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    assert.equal(root, join(dir, 'envs', hash ?? ''));
    assert.equal(await readFile(join(root, 'lib', 'mod.py'), 'utf8'), 'X = 1\n');
    assert.ok(existsSync(join(root, READY_MARKER)));
    const out = execFileSync(join(root, 'bin', 'python'), ['-c', 'print(6 * 7)'], {
      encoding: 'utf8',
    });
    assert.equal(out.trim(), '42');
  });

  it('unpacks once for concurrent loads, and reuses the folder afterwards', async () => {
    const file = await tarball(ENV);
    const envs = environments();
    const roots = await Promise.all([
      envs.prepare(file, 'a'),
      envs.prepare(file, 'b'),
      envs.prepare(file, 'c'),
    ]);
    assert.equal(new Set(roots).size, 1);
    const before = await stat(roots[0] ?? '');
    // A new instance (a restart) finds the folder complete.
    assert.equal(await environments().prepare(file, 'a'), roots[0]);
    const after = await stat(roots[0] ?? '');
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(lines.filter((l) => l.msg === 'unpacking an environment tarball').length, 1);
    assert.equal(lines.filter((l) => l.msg === 'reusing an unpacked environment').length, 1);
    // One environment (beside it, `<sha256>.users` records which servers use it).
    const entries = await readdir(join(dir, 'envs'));
    assert.deepEqual(entries.filter((n) => !n.endsWith('.users')).length, 1, String(entries));
  });

  it('makes a half-made folder (no ready marker) again', async () => {
    const file = await tarball(ENV);
    const root = await environments().prepare(file, 'env.tar.gz');
    await rm(join(root, READY_MARKER));
    await writeFile(join(root, 'stale.txt'), 'left by a crash');
    assert.equal(await environments().prepare(file, 'env.tar.gz'), root);
    assert.equal(existsSync(join(root, 'stale.txt')), false);
    assert.ok(existsSync(join(root, READY_MARKER)));
  });

  it('refuses a missing, truncated or non-tar file with its name', async () => {
    const envs = environments();
    assert.equal(
      await refusal(envs.prepare(join(dir, 'nope.tar.gz'), './nope.tar.gz')),
      "environment tarball './nope.tar.gz' does not exist",
    );
    const whole = await tarGz([...ENV, { name: 'lib/big', content: Buffer.alloc(64 * 1024, 7) }]);
    const cut = join(dir, 'cut.tar.gz');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    assert.match(
      await refusal(envs.prepare(cut, 'cut.tar.gz')),
      /^environment tarball 'cut\.tar\.gz': corrupt or truncated/,
    );
    const text = join(dir, 'text.tar.gz');
    await writeFile(text, 'not an archive at all '.repeat(100));
    assert.match(await refusal(envs.prepare(text, 'text.tar.gz')), /corrupt or truncated/);
    // Nothing is left behind by a refusal.
    assert.deepEqual(await readdir(join(dir, 'envs')), []);
  });

  it('refuses tarballs that are too large, packed or unpacked, or hold too many entries', async () => {
    const big = await tarball([...ENV, { name: 'lib/big', content: Buffer.alloc(200_000) }]);
    assert.match(
      await refusal(environments({ maxBytes: 100_000 }).prepare(big, 'big.tar.gz')),
      /too large: it unpacks to more than environment_max_bytes \(100000 bytes\)/,
    );
    assert.match(
      await refusal(environments({ maxBytes: 100 }).prepare(big, 'big.tar.gz')),
      /environment tarball 'big.tar.gz' is too large: \d+ bytes, more than environment_max_bytes \(100\)/,
    );
    assert.match(
      await refusal(environments({ maxEntries: 2 }).prepare(big, 'big.tar.gz')),
      /too many files: more than environment_max_entries \(2\)/,
    );
  });

  it('refuses entries that escape: .., absolute names, links out, through links', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    const cases: [TarEntry[], RegExp][] = [
      [[{ name: '../x.txt', content: Buffer.from('x') }], /entry '\.\.\/x\.txt' contains '\.\.'/],
      [[{ name: '/abs.txt', content: Buffer.from('x') }], /has an absolute path/],
      [
        [{ name: 'lib/evil', type: 'symlink', linkname: outside }],
        /link 'lib\/evil' points outside the archive/,
      ],
      [
        [
          { name: 'bin/python3', type: 'symlink', linkname: outside },
          { name: 'bin/python3/x.txt', content: Buffer.from('x') },
        ],
        /entry 'bin\/python3\/x\.txt' goes through the link 'bin\/python3'/,
      ],
      [
        // Listed in the other order: a downward link to an outside one, then a write through it.
        [
          { name: 'lib/alias', type: 'symlink', linkname: '../bin/python3' },
          { name: 'bin/python3', type: 'symlink', linkname: outside },
        ],
        /link 'lib\/alias' points outside/,
      ],
      [
        [
          { name: 'bin/python', type: 'symlink', linkname: 'python3' },
          { name: 'bin/python3', type: 'symlink', linkname: outside },
          { name: 'bin/python/x.txt', content: Buffer.from('x') },
        ],
        /goes through the link 'bin\/python'/,
      ],
    ];
    for (const [entries, reason] of cases) {
      const file = await tarball(entries, 'hostile.tar.gz');
      const message = await refusal(environments().prepare(file, 'hostile.tar.gz'));
      assert.match(message, /^environment tarball 'hostile\.tar\.gz': rejected: /);
      assert.match(message, reason);
      assert.deepEqual(await readdir(outside), []);
    }
  });

  it('says when bin/python is missing or links to a Python this machine lacks', async () => {
    const none = await tarball([{ name: 'lib/mod.py', content: Buffer.from('') }]);
    assert.match(
      await refusal(environments().prepare(none, 'none.tar.gz')),
      /holds no bin\/python: is it a conda-pack or venv-pack archive/,
    );
    const gone = await tarball(
      [{ name: 'bin/python', type: 'symlink', linkname: '/nonexistent/python3.99' }],
      'gone.tar.gz',
    );
    assert.match(
      await refusal(environments().prepare(gone, 'gone.tar.gz')),
      /its bin\/python links to a base Python this server does not have/,
    );
  });

  it('takes over a lock whose owner is gone, and refuses a folder others may write to', async () => {
    const file = await tarball(ENV);
    const hash = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0] ?? '';
    // A pid that existed and exited: the lock a crashed server left.
    const gone = spawnSync('true').pid;
    await mkdir(join(dir, 'envs', `${hash}.lock`), { recursive: true });
    await writeFile(join(dir, 'envs', `${hash}.lock`, 'pid'), String(gone));
    const root = await environments().prepare(file, 'env.tar.gz');
    assert.ok(existsSync(join(root, READY_MARKER)));
    assert.deepEqual((await readdir(join(dir, 'envs'))).sort(), [hash, `${hash}.users`]);

    await chmod(join(dir, 'envs'), 0o777);
    assert.match(
      await refusal(environments().prepare(file, 'env.tar.gz')),
      /environments_dir is not this server's own/,
    );
  });

  it("runs conda-pack's bin/conda-unpack in the final folder, keeping executable bits", async () => {
    const file = await tarball([
      ...ENV,
      {
        name: 'bin/conda-unpack',
        mode: 0o755,
        content: Buffer.from('import os\nopen("unpacked-at", "w").write(os.getcwd())\n'),
      },
    ]);
    const root = await environments().prepare(file, 'conda.tar.gz');
    assert.equal(await readFile(join(root, 'unpacked-at'), 'utf8'), root);
    assert.equal((await stat(join(root, 'bin', 'conda-unpack'))).mode & 0o111, 0o111);
    assert.equal((await stat(join(root, 'lib', 'mod.py'))).mode & 0o111, 0);
  });

  describe('removing unused environments (environments_cache_bytes)', () => {
    /** An environment whose module holds `text` (so each has its own hash and size). */
    const envWith = (text: string): TarEntry[] => [
      ...ENV.slice(0, 3),
      { name: 'lib/mod.py', content: Buffer.from(text) },
    ];
    const removed = (): string[] =>
      lines
        .filter((l) => l.msg === 'removed an unused environment (environments_cache_bytes)')
        .map((l) => l.environment ?? '');
    const hashOf = (file: string): string =>
      execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0] ?? '';

    it('keeps what is in use and removes an unused one at once with a budget of 0', async () => {
      const envs = environments({ cacheBytes: 0 });
      const a = await envs.acquire(await tarball(envWith('A = 1\n'), 'a.tar.gz'), 'a.tar.gz');
      const a2 = await envs.acquire(join(dir, 'a.tar.gz'), 'a.tar.gz');
      const b = await envs.acquire(await tarball(envWith('B = 22\n'), 'b.tar.gz'), 'b.tar.gz');
      await a.release();
      // Still held by the second model using it.
      assert.ok(existsSync(join(a.folder, READY_MARKER)));
      await a2.release();
      assert.equal(existsSync(a.folder), false);
      assert.deepEqual(removed(), [hashOf(join(dir, 'a.tar.gz'))]);
      assert.ok(existsSync(join(b.folder, READY_MARKER)), 'the one in use stays');
      await b.release();
      assert.equal(existsSync(b.folder), false);
      // Used again later: unpacked again.
      const again = await envs.acquire(join(dir, 'a.tar.gz'), 'a.tar.gz');
      assert.equal(await readFile(join(again.folder, 'lib', 'mod.py'), 'utf8'), 'A = 1\n');
    });

    it('removes the least recently used past the budget, and keeps the rest', async () => {
      // Each module is 6 bytes: a budget of 13 keeps two unused environments, not three.
      const envs = environments({ cacheBytes: 13 });
      const leases = [];
      for (const name of ['a', 'b', 'c']) {
        const file = await tarball(envWith(`${name} = 1\n`), `${name}.tar.gz`);
        leases.push(await envs.acquire(file, name));
      }
      const [a, b, c] = leases;
      await b!.release();
      await a!.release();
      // b was released before a; its last use is made older than a's without relying on a clock.
      await utimes(join(b!.folder, READY_MARKER), new Date(1000), new Date(1000));
      assert.deepEqual(removed(), []);
      await c!.release();
      assert.deepEqual(removed(), [hashOf(join(dir, 'b.tar.gz'))]);
      assert.ok(existsSync(join(a!.folder, READY_MARKER)));
      assert.ok(existsSync(join(c!.folder, READY_MARKER)));
    });

    it("never removes one another live server uses, and forgets a dead server's use", async () => {
      const envs = environments({ cacheBytes: 0 });
      const shared = await tarball(envWith('S = 1\n'), 's.tar.gz');
      const stale = await tarball(envWith('T = 1\n'), 't.tar.gz');
      const s1 = await envs.acquire(shared, 's');
      const t1 = await envs.acquire(stale, 't');
      // Another server on the same folder: a live process (this one's parent) and a dead one.
      const users = (file: string): string => join(dir, 'envs', `${hashOf(file)}.users`);
      await writeFile(join(users(shared), String(process.ppid)), '');
      await writeFile(join(users(stale), String(spawnSync('true').pid)), '');
      await s1.release();
      await t1.release();
      assert.ok(existsSync(join(s1.folder, READY_MARKER)), 'the other server still uses it');
      assert.equal(existsSync(t1.folder), false);
      assert.deepEqual(removed(), [hashOf(stale)]);
    });

    it('chooses unused environments, least recently used first, until the rest fit', () => {
      const env = (hash: string, bytes: number, lastUsedMs: number, inUse = false) => ({
        hash,
        bytes,
        lastUsedMs,
        inUse,
      });
      const envs = [
        env('new', 5, 300),
        env('old', 5, 100),
        env('used', 50, 0, true),
        env('mid', 5, 200),
      ];
      assert.deepEqual(toRemove(envs, 15), []);
      assert.deepEqual(toRemove(envs, 10), ['old']);
      assert.deepEqual(toRemove(envs, 4), ['old', 'mid', 'new']);
      assert.deepEqual(toRemove([env('used', 50, 0, true)], 0), []);
    });
  });
});
