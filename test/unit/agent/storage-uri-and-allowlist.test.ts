import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertHostAllowed, isBlockedAddress } from '../../../agent/src/allowlist.js';
import { displayUri, parseStorageUri } from '../../../agent/src/storage-uri.js';

describe('parseStorageUri', () => {
  it('parses every supported scheme', () => {
    assert.deepEqual(parseStorageUri('s3://models/iris/v1', '/mnt/pvc'), {
      scheme: 's3',
      bucket: 'models',
      key: 'iris/v1',
    });
    assert.deepEqual(parseStorageUri('gs://models/iris/', '/mnt/pvc'), {
      scheme: 'gs',
      bucket: 'models',
      key: 'iris/',
    });
    assert.deepEqual(parseStorageUri('pvc://claim/a/b', '/mnt/pvc'), {
      scheme: 'file',
      path: '/mnt/pvc/claim/a/b',
    });
    assert.deepEqual(parseStorageUri('file:///data/m', '/mnt/pvc'), {
      scheme: 'file',
      path: '/data/m',
    });
    assert.deepEqual(parseStorageUri('/data/m', '/mnt/pvc'), { scheme: 'file', path: '/data/m' });
    assert.equal(parseStorageUri('https://example.com/m.onnx', '/mnt/pvc').scheme, 'http');
  });

  it('refuses traversal, relative paths and unknown schemes with the reason', () => {
    // URL parsing resolves dot segments first, so a pvc:// path can never climb out of its claim.
    assert.deepEqual(parseStorageUri('pvc://claim/../../etc', '/mnt/pvc'), {
      scheme: 'file',
      path: '/mnt/pvc/claim/etc',
    });
    assert.throws(() => parseStorageUri('s3://models/a/../../b', '/mnt/pvc'), /'\.\.'/);
    assert.throws(() => parseStorageUri('/data/../etc', '/mnt/pvc'), /'\.\.'/);
    assert.throws(
      () => parseStorageUri('models/iris', '/mnt/pvc'),
      /neither a URL nor an absolute path/,
    );
    assert.throws(() => parseStorageUri('ftp://host/x', '/mnt/pvc'), /unsupported scheme 'ftp'/);
    assert.throws(() => parseStorageUri('s3://A_B/x', '/mnt/pvc'), /no valid bucket/);
  });

  it('never shows user-info or query strings, which may carry credentials', () => {
    assert.equal(
      displayUri('https://user:pw@example.com/m.onnx?X-Amz-Signature=abc'),
      'https://example.com/m.onnx',
    );
  });
});

describe('allowlist', () => {
  it('blocks link-local and metadata addresses, IPv4-mapped ones included', () => {
    for (const address of [
      '169.254.169.254',
      '169.254.0.1',
      'fd00:ec2::254',
      '::ffff:169.254.169.254',
      'fe80::1',
    ]) {
      assert.equal(isBlockedAddress(address), true, address);
    }
    for (const address of ['127.0.0.1', '10.0.0.1', '::1', '8.8.8.8']) {
      assert.equal(isBlockedAddress(address), false, address);
    }
  });

  it('refuses metadata host names and hosts outside allowed_hosts', () => {
    assert.throws(() => {
      assertHostAllowed('metadata.google.internal', []);
    }, /metadata/);
    assert.throws(() => {
      assertHostAllowed('[fd00:ec2::254]', []);
    }, /metadata/);
    assert.throws(() => {
      assertHostAllowed('evil.example', ['models.example']);
    }, /not in allowed_hosts/);
    assert.doesNotThrow(() => {
      assertHostAllowed('MODELS.example', ['models.example']);
    });
  });
});
