// Environments (server/src/runtime/python/environments.ts): unpacking environment tarballs once
// per content hash, safely and within bounds, with reasons in the user's terms. The tarballs are
// crafted (test/support/archives.ts); the real venv-pack ones are in the integration test.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Environments, READY_MARKER } from '../../../server/src/runtime/python/environments.js';
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

  function environments(limits: { maxBytes?: number; maxEntries?: number } = {}): Environments {
    const log = (obj: object, msg: string): void => {
      lines.push({ ...(obj as Line), msg });
    };
    return new Environments({
      dir: join(dir, 'envs'),
      maxBytes: limits.maxBytes ?? 1024 * 1024,
      maxEntries: limits.maxEntries ?? 100,
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
    assert.deepEqual((await readdir(join(dir, 'envs'))).length, 1);
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
    assert.deepEqual((await readdir(join(dir, 'envs'))).sort(), [hash]);

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
});
