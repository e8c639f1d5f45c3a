/**
 * Reads an XGBoost model file into its JSON document. `Booster.save_model` writes the same
 * document as JSON (`.json`) or as UBJSON (`.ubj`, the default since 2.1); XGBoost's UBJSON uses
 * typed arrays (`[$d#…` for float32, `[$l#…` for int32) and int64 lengths (`L`), which
 * @shelacek/ubjson decodes, the int64s through a handler. Releases 1.x and 2.x write the float
 * NaN of a categorical split's unused condition as a bare `NaN` in JSON, which `JSON.parse`
 * refuses; such files are read with json5 (JSON plus NaN and Infinity), only when `JSON.parse`
 * fails, as it is about 25 times slower (0.75 s for a 4 MB model, in the engine worker). The
 * legacy binary format (`save_model("model.bst")` in 1.x and 2.0, `.deprecated` in 2.1; 3.1 no
 * longer reads it) is an undocumented memory dump whose layout changed between releases; it is
 * refused with the way to re-save the model, naming the release that wrote it.
 */
import { UbjsonDecoder } from '@shelacek/ubjson';
import JSON5 from 'json5';
import { ModelFormatError } from '../trees/tree-engine.js';

/** The instruction every refusal of a legacy file ends with. */
export const RESAVE_HINT =
  'load it with the xgboost release that wrote it (any release up to 3.0 reads it) and re-save it as JSON or UBJSON: booster.save_model("model.json")';

/** Which encoding a file uses, from its first bytes. */
export type XgboostEncoding = 'json' | 'ubj' | 'legacy';

/** Tells JSON (`{"`), UBJSON (`{` then a length marker) and the legacy binary format apart. */
export function xgboostEncoding(head: Uint8Array): XgboostEncoding {
  let i = 0;
  while (i < head.length && isSpace(head[i] ?? 0)) i++;
  if (head[i] !== 0x7b) return 'legacy';
  let j = i + 1;
  while (j < head.length && isSpace(head[j] ?? 0)) j++;
  const next = head[j];
  if (next === 0x22 || next === 0x7d) return 'json';
  // UBJSON object keys start with their length's type marker: i, U, I, l or L.
  return next !== undefined && 'iUIlL$#'.includes(String.fromCharCode(next)) ? 'ubj' : 'json';
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The release that wrote a legacy binary file, from its header: the `binf` magic (1.0 and later),
 * then LearnerModelParamLegacy's base_score, num_feature, num_class, contain_extra_attrs and
 * contain_eval_metrics (4 bytes each), then major_version and minor_version (uint32, little
 * endian). Undefined for files without the magic (before 1.0) or with implausible numbers.
 */
export function legacyRelease(bytes: Uint8Array): string | undefined {
  if (bytes.length < 32 || Buffer.from(bytes.subarray(0, 4)).toString('latin1') !== 'binf') {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 32);
  const major = view.getUint32(24, true);
  const minor = view.getUint32(28, true);
  return major >= 1 && major <= 2 && minor < 100 ? `${major}.${minor}` : undefined;
}

/** Parses a model file's bytes into the XGBoost document. `name` is the file's base name. */
export function readXgboostDocument(bytes: Uint8Array, name: string): unknown {
  const encoding = xgboostEncoding(bytes.subarray(0, 16));
  if (encoding === 'legacy') {
    const release = legacyRelease(bytes);
    const writer = release === undefined ? '' : ` (written by xgboost ${release})`;
    throw new ModelFormatError(
      `${name} is in XGBoost's legacy binary format${writer}, which this server does not read; ${RESAVE_HINT}`,
    );
  }
  if (encoding === 'json') return parseJson(bytes, name);
  try {
    const decoder = new UbjsonDecoder({
      useTypedArrays: true,
      int64Handling: ({ view }, offset) => Number(view.getBigInt64(offset)),
      highPrecisionNumberHandling: 'error',
    });
    const own = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return decoder.decode(own as ArrayBuffer);
  } catch {
    throw new ModelFormatError(`${name} is not valid UBJSON (is it truncated?)`);
  }
}

/**
 * JSON, or JSON with bare NaN/Infinity numbers: XGBoost's writer in 1.x and 2.x (model documents) and
 * Python's `json.dumps` (the scikit-learn interface's `scikit_learn` attribute, `"missing": NaN`).
 * Throws what the parser threw when the text is neither.
 */
export function parseXgboostJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Only a text that is not plain JSON pays for the slower parser.
    return JSON5.parse(text);
  }
}

function parseJson(bytes: Uint8Array, name: string): unknown {
  try {
    return parseXgboostJson(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(),
    );
  } catch {
    throw new ModelFormatError(`${name} is not valid JSON (is it truncated?)`);
  }
}
