/**
 * KServe's runtime placeholders (`ReplacePlaceholders` in KServe's inferenceservice utils: the
 * runtime container, as JSON, run through Go's text/template with the InferenceService's
 * ObjectMeta). Tessera supports the forms KServe's runtimes and documentation use, in any string
 * of a runtime container: `{{.Name}}`, `{{.Namespace}}`, `{{.Labels.key}}`,
 * `{{.Annotations.key}}` and `{{index .Labels "key"}}` / `{{index .Annotations "key"}}`. A
 * label or annotation the object does not have becomes the empty string. Pure.
 */

/** The metadata placeholders are filled from. */
export interface PlaceholderMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

const ACTION = /\{\{-?\s*(.*?)\s*-?\}\}/g;
const FIELD = /^\.(Name|Namespace)$/;
const MAP_DOT = /^\.(Labels|Annotations)\.([A-Za-z0-9_]+)$/;
const MAP_INDEX = /^index\s+\.(Labels|Annotations)\s+"([^"]*)"$/;

/** The value of one placeholder's action, or undefined when Tessera does not know that form. */
function resolve(action: string, meta: PlaceholderMeta): string | undefined {
  const field = FIELD.exec(action);
  if (field !== null) return field[1] === 'Name' ? meta.name : meta.namespace;
  const map = MAP_DOT.exec(action) ?? MAP_INDEX.exec(action);
  if (map === null) return undefined;
  const values = map[1] === 'Labels' ? meta.labels : meta.annotations;
  return values?.[map[2] ?? ''] ?? '';
}

const PROBE: PlaceholderMeta = { name: '', namespace: '' };

/** The placeholders in `text` that Tessera cannot fill (as written), in order. */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(ACTION)]
    .filter((m) => resolve(m[1] ?? '', PROBE) === undefined)
    .map((m) => m[0]);
}

/** Every string inside `value` (keys excluded), for checks that walk a container. */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(stringsIn);
  return [];
}

/** `value` with every known placeholder in every string filled; unknown ones are left as written. */
export function fillPlaceholders<T>(value: T, meta: PlaceholderMeta): T {
  return fill(value, meta) as T;
}

function fill(value: unknown, meta: PlaceholderMeta): unknown {
  if (typeof value === 'string')
    return value.includes('{{')
      ? value.replace(ACTION, (whole, action: string) => resolve(action, meta) ?? whole)
      : value;
  if (Array.isArray(value)) return value.map((v) => fill(v, meta));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, meta)]));
  return value;
}
