#!/usr/bin/env node
// Copies the CRDs from crds/ (their single source, ADR 0006) into charts/tessera/files/crds/,
// byte for byte; the chart's templates/crds.yaml renders them from there. `--check` changes
// nothing and exits 1 when a copy is missing, stale or extra (test/unit/chart/crds-sync.test.ts
// runs the same comparison).
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const source = join(root, 'crds');
const target = join(root, 'charts/tessera/files/crds');

/** The CRD files of a folder (the samples sub-folder is not one of them). */
export function crdFiles(dir) {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
    : [];
}

/** The differences between crds/ and the chart's copies, one line each. */
export function drift() {
  const want = crdFiles(source);
  const have = new Set(crdFiles(target));
  const out = [];
  for (const f of want) {
    if (!have.has(f)) out.push(`missing: charts/tessera/files/crds/${f}`);
    else if (!readFileSync(join(source, f)).equals(readFileSync(join(target, f))))
      out.push(`stale: charts/tessera/files/crds/${f} differs from crds/${f}`);
    have.delete(f);
  }
  for (const f of have) out.push(`extra: charts/tessera/files/crds/${f} has no crds/${f}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = drift();
  if (process.argv.includes('--check')) {
    for (const p of problems) console.error(p);
    if (problems.length > 0) console.error('run: node scripts/sync-chart-crds.mjs');
    process.exitCode = problems.length > 0 ? 1 : 0;
  } else {
    for (const f of crdFiles(target)) if (!crdFiles(source).includes(f)) rmSync(join(target, f));
    for (const f of crdFiles(source)) copyFileSync(join(source, f), join(target, f));
    console.log(`copied ${crdFiles(source).length} CRDs into charts/tessera/files/crds/`);
  }
}
