/**
 * Reads an XGBoost model file into its JSON document. `Booster.save_model` writes the same
 * document as JSON (`.json`) or as UBJSON (`.ubj`, the default since 2.1); XGBoost's UBJSON uses
 * typed arrays (`[$d#…` for float32, `[$l#…` for int32) and int64 lengths (`L`), which
 * @shelacek/ubjson decodes, the int64s through a handler. The legacy binary format (`.bst` from
 * 1.x, or `save_model` with a name that is neither `.json` nor `.ubj`) is an undocumented memory
 * dump whose layout changed between releases; it is refused with the way to re-save the model.
 */
import { UbjsonDecoder } from '@shelacek/ubjson';
import { ModelFormatError } from '../trees/tree-engine.js';

/** The instruction every refusal of a legacy file ends with. */
export const RESAVE_HINT =
  're-save it with xgboost >= 1.0 as JSON or UBJSON: booster.save_model("model.json")';

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

/** Parses a model file's bytes into the XGBoost document. `name` is the file's base name. */
export function readXgboostDocument(bytes: Uint8Array, name: string): unknown {
  const encoding = xgboostEncoding(bytes.subarray(0, 16));
  if (encoding === 'legacy') {
    throw new ModelFormatError(
      `${name} is in XGBoost's legacy binary format, which this server does not read; ${RESAVE_HINT}`,
    );
  }
  if (encoding === 'json') {
    try {
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString());
    } catch {
      throw new ModelFormatError(`${name} is not valid JSON (is it truncated?)`);
    }
  }
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
