import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  archiveKind,
  extractArchive,
  type ExtractLimits,
} from '../../../agent/src/archive-extract.js';
import { tarGz, zip, type TarEntry, type ZipEntry } from '../../support/archives.js';

const LIMITS: ExtractLimits = { maxBytes: 1024 * 1024, maxEntries: 10 };

describe('extractArchive', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-extract-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function extractTar(entries: TarEntry[], limits = LIMITS): Promise<string> {
    const archive = join(dir, 'a.tar.gz');
    await writeFile(archive, await tarGz(entries));
    const dest = join(dir, 'out');
    await extractArchive(archive, 'tgz', dest, limits);
    return dest;
  }

  async function extractZip(entries: ZipEntry[], limits = LIMITS): Promise<string> {
    const archive = join(dir, 'a.zip');
    await writeFile(archive, zip(entries));
    const dest = join(dir, 'out');
    await extractArchive(archive, 'zip', dest, limits);
    return dest;
  }

  it('names archive kinds by file name', () => {
    assert.equal(archiveKind('m.tar.gz'), 'tgz');
    assert.equal(archiveKind('m.TGZ'), 'tgz');
    assert.equal(archiveKind('m.tar'), 'tar');
    assert.equal(archiveKind('m.zip'), 'zip');
    assert.equal(archiveKind('model.onnx'), undefined);
  });

  it('extracts files, folders and links that point downwards', async () => {
    const dest = await extractTar([
      { name: 'm/', type: 'directory' },
      { name: 'm/model.onnx', content: Buffer.from('onnx') },
      { name: 'm/current', type: 'symlink', linkname: 'model.onnx' },
    ]);
    assert.equal(await readFile(join(dest, 'm/current'), 'utf8'), 'onnx');
    const zipped = await extractZip([
      { name: 'a/b.txt', content: Buffer.from('b'), deflate: true },
    ]);
    assert.equal(await readFile(join(zipped, 'a/b.txt'), 'utf8'), 'b');
  });

  it('rejects traversal and absolute names in tar and zip', async () => {
    await assert.rejects(
      extractTar([{ name: '../x', content: Buffer.from('x') }]),
      /contains '\.\.'/,
    );
    await assert.rejects(
      extractTar([{ name: '/etc/x', content: Buffer.from('x') }]),
      /absolute path/,
    );
    await assert.rejects(
      extractZip([{ name: 'a/../../x', content: Buffer.from('x') }]),
      /valid zip|'\.\.'/,
    );
  });

  it('rejects links that leave the folder, and zip links', async () => {
    await assert.rejects(
      extractTar([{ name: 'l', type: 'symlink', linkname: '/etc/passwd' }]),
      /points outside/,
    );
    await assert.rejects(
      extractTar([
        { name: 'd/', type: 'directory' },
        { name: 'd/l', type: 'symlink', linkname: '../../x' },
      ]),
      /points outside/,
    );
    await assert.rejects(
      extractTar([{ name: 'h', type: 'link', linkname: '../outside' }]),
      /contains '\.\.'/,
    );
    await assert.rejects(
      extractZip([{ name: 'l', content: Buffer.from('/etc/passwd'), mode: 0o120777 }]),
      /may not hold links/,
    );
  });

  it('keeps executable bits and replaces repeated files only when asked', async () => {
    const twice = [
      { name: 'bin/run', content: Buffer.from('one'), mode: 0o755 },
      { name: 'bin/run', content: Buffer.from('two'), mode: 0o755 },
    ];
    await assert.rejects(extractTar(twice), /not a valid tar archive/);
    await rm(join(dir, 'out'), { recursive: true, force: true });
    const dest = await extractTar(twice, { ...LIMITS, keepExecutable: true, replaceFiles: true });
    assert.equal(await readFile(join(dest, 'bin/run'), 'utf8'), 'two');
    assert.equal((await stat(join(dest, 'bin/run'))).mode & 0o777, 0o755);
  });

  it('lets allowed links point outside but never writes through any link', async () => {
    const limits = { ...LIMITS, allowOutsideLink: (s: readonly string[]) => s[0] === 'bin' };
    const dest = await extractTar([{ name: 'bin/py', type: 'symlink', linkname: dir }], limits);
    assert.equal(await readlink(join(dest, 'bin/py')), dir);
    await rm(dest, { recursive: true, force: true });
    await assert.rejects(
      extractTar(
        [
          { name: 'bin/py', type: 'symlink', linkname: dir },
          { name: 'bin/py/x', content: Buffer.from('x') },
        ],
        limits,
      ),
      /goes through the link 'bin\/py'/,
    );
    assert.equal(existsSync(join(dir, 'x')), false);
  });

  it('stops bombs by bytes written and by entry count', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024);
    await assert.rejects(extractTar([{ name: 'z', content: big }]), /expands past/);
    await assert.rejects(extractZip([{ name: 'z', content: big, deflate: true }]), /expands past/);
    const many = Array.from({ length: 11 }, (_, i) => ({
      name: `f${i}`,
      content: Buffer.from('x'),
    }));
    await assert.rejects(extractTar(many), /more than 10 entries/);
    assert.deepEqual(await readdir(dir).then((e) => e.includes('z')), false);
  });
});
