// Where test peers keep their artefacts: outside the repository, shared by every clone, keyed by
// the caller (a version or a hash of the inputs) so a change rebuilds and an unchanged run reuses.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

/** The root of Tessera's test cache; TESSERA_CACHE_DIR overrides it. */
export function cacheRoot() {
  const base =
    process.env.TESSERA_CACHE_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tessera');
  mkdirSync(base, { recursive: true });
  return base;
}

/** A sub-folder of the cache, created on demand. */
export function cacheDir(...parts) {
  const dir = join(cacheRoot(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
