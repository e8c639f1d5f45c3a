import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  parseImplementation,
  resolveModuleFile,
  resolvePackage,
} from '../../../server/src/runtime/custom/implementation.js';

describe('parseImplementation', () => {
  it('reads module paths relative to the model folder, with an optional export', () => {
    assert.deepEqual(parseImplementation('./model.mjs'), { kind: 'file', path: './model.mjs' });
    assert.deepEqual(parseImplementation('model.js'), { kind: 'file', path: 'model.js' });
    assert.deepEqual(parseImplementation('lib/runtime.ts#Text'), {
      kind: 'file',
      path: 'lib/runtime.ts',
      exportName: 'Text',
    });
    assert.deepEqual(parseImplementation('../up.cjs'), { kind: 'file', path: '../up.cjs' });
  });

  it('reads lower-case package names, scoped or with a subpath', () => {
    assert.deepEqual(parseImplementation('my-runtime'), {
      kind: 'package',
      specifier: 'my-runtime',
    });
    assert.deepEqual(parseImplementation('@acme/runtimes/text#Text'), {
      kind: 'package',
      specifier: '@acme/runtimes/text',
      exportName: 'Text',
    });
  });

  it('does not take Python class paths, bad export names or extension-less relative paths', () => {
    for (const value of [
      'models.MyCustomRuntime',
      'mlserver_sklearn.SKLearnModel',
      './model',
      './model.mjs#not-a-name',
      'pkg/../escape',
      '',
    ]) {
      assert.equal(parseImplementation(value), undefined, value);
    }
  });
});

describe('resolveModuleFile', () => {
  let root: string;
  let folder: string;
  const where = () => ({ folder, source: 'm/model-settings.json' });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-impl-'));
    folder = join(root, 'm');
    await mkdir(join(folder, 'lib'), { recursive: true });
    await writeFile(join(folder, 'model.mjs'), 'export default class {}');
    await writeFile(join(folder, 'lib', 'inner.mjs'), '');
    await writeFile(join(root, 'outside.mjs'), '');
    await symlink(join(root, 'outside.mjs'), join(folder, 'link.mjs'));
    await symlink(join(folder, 'model.mjs'), join(folder, 'alias.mjs'));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('resolves files inside the folder to a file URL that changes with the file', async () => {
    const url = await resolveModuleFile('./model.mjs', where());
    assert.match(url, /^file:\/\/.+\/m\/model\.mjs\?mtime=\d+$/);
    assert.match(await resolveModuleFile('lib/inner.mjs', where()), /\/m\/lib\/inner\.mjs\?/);
    assert.match(await resolveModuleFile('./alias.mjs', where()), /\/m\/model\.mjs\?/);
  });

  it('refuses paths that leave the folder, lexically or through a link, naming only the path given', async () => {
    const cases: [string, RegExp][] = [
      [
        '../outside.mjs',
        /m\/model-settings\.json: implementation: '\.\.\/outside\.mjs' is outside the model folder/,
      ],
      ['./lib/../../outside.mjs', /is outside the model folder/],
      ['./link.mjs', /'\.\/link\.mjs' leads outside the model folder \(symbolic link\)/],
      [join(root, 'outside.mjs'), /a module path must be relative to the model folder/],
      ['./nope.mjs', /'\.\/nope\.mjs' does not exist in the model folder/],
      ['./lib.mjs', /does not exist/],
    ];
    for (const [path, message] of cases) {
      await assert.rejects(resolveModuleFile(path, where()), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(!error.message.includes(root), `no absolute path: ${error.message}`);
        return true;
      });
    }
  });
});

describe('resolvePackage', () => {
  it('resolves packages installed with the server and refuses others', () => {
    assert.match(resolvePackage('zod', 's'), /^file:\/\/.+zod/);
    assert.throws(() => resolvePackage('tessera-no-such-runtime', 'x/model-settings.json'), {
      message:
        /x\/model-settings\.json: implementation: package 'tessera-no-such-runtime' is not installed/,
    });
  });
});
