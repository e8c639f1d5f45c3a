#!/usr/bin/env node
// Runs test tiers with Node's built-in runner. Node 20's `node --test` takes paths, not globs,
// so the files are collected here. Integration tiers first provision their peers (Python
// virtualenv, Go-built binaries) through test/peers/provision.mjs, which caches outside the repo.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const tiers = process.argv.slice(2);
if (tiers.length === 0) {
  console.error('usage: run-tests.mjs <unit|integration|e2e>...');
  process.exit(2);
}

function collect(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

const files = tiers.flatMap((tier) => collect(join('test', tier)));
if (files.length === 0) {
  console.error(`no test files found for tiers: ${tiers.join(', ')}`);
  process.exit(1);
}

if (tiers.some((t) => t !== 'unit') && existsSync('test/peers/provision.mjs')) {
  const provision = spawnSync(process.execPath, ['test/peers/provision.mjs'], { stdio: 'inherit' });
  if (provision.status !== 0) process.exit(provision.status ?? 1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
