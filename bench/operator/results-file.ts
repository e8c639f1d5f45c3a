// Writes one block of bench/RESULTS.md: each benchmark owns `### <heading>` blocks inside one
// `## <section>`; a rerun replaces its block and keeps everything else as written.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = join(import.meta.dirname, '../RESULTS.md');

/**
 * Replaces (or appends) the block that starts with `### <heading>` in the `## <section>` section
 * of bench/RESULTS.md; the section's prose before its first block is kept.
 */
export function writeResultsBlock(section: string, heading: string, block: string): void {
  let current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmark results\n';
  if (!current.includes(`\n## ${section}`)) current = `${current.trimEnd()}\n\n## ${section}\n`;
  const start = current.indexOf(`\n## ${section}`);
  let sectionEnd = current.indexOf('\n## ', start + 1);
  if (sectionEnd < 0) sectionEnd = current.length;
  let at = current.indexOf(`\n### ${heading}`, start);
  let end: number;
  if (at < 0 || at > sectionEnd) {
    at = sectionEnd;
    end = sectionEnd;
  } else {
    const next = current.indexOf('\n### ', at + 1);
    end = next < 0 || next > sectionEnd ? sectionEnd : next;
  }
  const updated = `${current.slice(0, at).trimEnd()}\n\n${block.trim()}\n${current.slice(end)}`;
  writeFileSync(FILE, `${updated.trimEnd()}\n`);
}
