// assertGolden: compares an object, serialised as YAML with sorted keys, to
// test/golden/<dir>/<name>.golden.yaml. UPDATE_GOLDEN=1 rewrites the file; a missing file is created.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

const GOLDEN_ROOT = join(import.meta.dirname, '..', 'golden');

/** Asserts that `value` matches the golden file `test/golden/<name>.golden.yaml`. */
export function assertGolden(name: string, value: unknown): void {
  const file = join(GOLDEN_ROOT, `${name}.golden.yaml`);
  const actual = stringify(value, { sortMapEntries: true, lineWidth: 0 });
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.equal(
    actual,
    readFileSync(file, 'utf8'),
    `${file} differs; rerun with UPDATE_GOLDEN=1 if intended`,
  );
}
