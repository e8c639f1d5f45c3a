/**
 * file://, absolute paths and pvc:// — copied (not linked) from inside the allowed roots, so the
 * artefact on the model volume cannot change under the server. Links inside a copied folder are
 * resolved and must also stay inside the allowed roots.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { assertPathAllowed } from '../allowlist.js';
import { writeObject, type PullResult, type PullTarget } from './transfer.js';

/** Copies a local file or folder into the staging folder. */
export async function pullFile(
  path: string,
  roots: readonly string[],
  shownAs: string,
  target: PullTarget,
): Promise<PullResult> {
  const real = await assertPathAllowed(path, roots, shownAs);
  const info = await stat(real);
  if (info.isFile()) {
    const name = basename(path);
    const written = await writeObject(createReadStream(real), join(target.dir, name), target);
    return { kind: 'file', name, ...written };
  }
  let bytes = 0;
  let files = 0;
  const walk = async (from: string, to: string): Promise<void> => {
    for (const entry of await readdir(from, { withFileTypes: true })) {
      const source = await assertPathAllowed(join(from, entry.name), roots, shownAs);
      const entryInfo = await stat(source);
      if (entryInfo.isDirectory()) await walk(source, join(to, entry.name));
      else if (entryInfo.isFile()) {
        bytes += (await writeObject(createReadStream(source), join(to, entry.name), target)).bytes;
        files++;
      }
    }
  };
  await walk(real, target.dir);
  return { kind: 'folder', bytes, files };
}
