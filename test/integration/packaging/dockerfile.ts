// Reading a committed Dockerfile's stages for the packaging tests (no Dockerfile parser library
// is needed for FROM, ENV and the line continuations these files use).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../../..');

/** A Dockerfile's text with its `\` continuations joined into single lines, comments dropped. */
function logicalLines(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n\s*/g, ' ');
  return text.split('\n').filter((l) => !l.startsWith('#'));
}

/** The instructions of the stage `FROM … AS name` (up to the next FROM), one per line. */
export function dockerStage(file: string, name: string): string {
  const lines = logicalLines(file);
  const start = lines.findIndex((l) => new RegExp(`^FROM \\S+ AS ${name}$`).test(l));
  if (start < 0) throw new Error(`${file} has no stage ${name}`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('FROM '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** The variables a stage's `ENV k=v …` lines set (values without quotes or spaces). */
export function stageEnv(stage: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of stage.split('\n').filter((l) => l.startsWith('ENV ')))
    for (const [, k, v] of line.slice(4).matchAll(/(\w+)=(\S*)/g))
      if (k !== undefined) vars[k] = v ?? '';
  return vars;
}

/** The stages `FROM base AS name` of a Dockerfile, in order. */
export function dockerStages(file: string): { base: string; name: string | undefined }[] {
  return logicalLines(file)
    .map((l) => /^FROM (\S+)(?: AS (\S+))?$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ base: m[1] ?? '', name: m[2] }));
}
