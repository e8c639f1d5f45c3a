// `tessera start <folder>` as users run it: bad settings stop it before any port opens, with one
// line naming the source, the field and the reason; wrong usage prints the usage.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/server-process.js';

const CLI = join(REPO_ROOT, 'server', 'dist', 'cli.js');

function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolveRun({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('tessera CLI', () => {
  let folder: string;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
  });
  after(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('exits 1 with one line naming settings.json, the field and the reason', async () => {
    await writeFile(join(folder, 'settings.json'), JSON.stringify({ http_port: 'eighty' }));
    const { code, stderr } = await runCli(['start', folder]);
    assert.equal(code, 1);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0]!,
      /^tessera: invalid setting http_port \(from settings\.json\): .*expected number/,
    );
  });

  it('names the environment variable a bad value came from', async () => {
    await writeFile(join(folder, 'settings.json'), '{}');
    const { code, stderr } = await runCli(['start', folder], { MLSERVER_GRPC_PORT: '99999' });
    assert.equal(code, 1);
    assert.match(
      stderr,
      /invalid setting grpc_port \(from environment variable MLSERVER_GRPC_PORT\)/,
    );
  });

  it('prints usage and exits 2 on a wrong command line', async () => {
    const { code, stderr } = await runCli(['serve']);
    assert.equal(code, 2);
    assert.match(stderr, /Usage: tessera start <folder>/);
  });

  it('prints its version', async () => {
    const { code, stdout } = await runCli(['--version']);
    assert.equal(code, 0);
    assert.match(stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});
