/**
 * The BYTES content types (mlserver-features.md §8.2): `str` (UTF-8 text), `base64` (binary
 * elements carried as base64 text) and `datetime` (ISO 8601 text). Decoding checks each element
 * and says which one is wrong; encoding writes what MLServer's StringCodec, Base64Codec and
 * DatetimeCodec write.
 */
import { invalidInput, shorten } from '../../errors.js';
import type { Tensor } from '../types.js';

// fatal: text that is not UTF-8 is refused, not replaced; ignoreBOM: a leading U+FEFF is data.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ascii = new TextEncoder();

/** The tensor's BYTES elements, or a 400 saying the content type needs BYTES. */
function bytesElements(tensor: Tensor, kind: string, what: string): readonly Uint8Array[] {
  if (tensor.datatype !== 'BYTES' || !Array.isArray(tensor.data)) {
    throw invalidInput(
      `${kind} '${shorten(tensor.name)}': content type '${what}' needs datatype BYTES, got ${tensor.datatype}`,
    );
  }
  return tensor.data as readonly Uint8Array[];
}

/** Checks that every element of a `str` input is UTF-8 text (MLServer decodes with utf-8). */
export function checkStrings(tensor: Tensor): Tensor {
  const elements = bytesElements(tensor, 'input', 'str');
  elements.forEach((element, index) => {
    try {
      utf8.decode(element);
    } catch {
      throw invalidInput(
        `input '${shorten(tensor.name)}': element ${index} is not UTF-8 text (content type 'str')`,
      );
    }
  });
  return tensor;
}

/** Standard base64 with padding, as Python's `base64.b64decode(..., validate=True)` accepts it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a `base64` input: each element is base64 text and the model gets the bytes it encodes.
 * MLServer passes an element that is not base64 through unchanged; here it is refused, so a
 * client never has its data silently reinterpreted.
 */
export function decodeBase64(tensor: Tensor): Tensor {
  const elements = bytesElements(tensor, 'input', 'base64');
  const decoded = elements.map((element, index) => {
    const text = Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString(
      'latin1',
    );
    if (!BASE64.test(text)) {
      throw invalidInput(
        `input '${shorten(tensor.name)}': element ${index} is not valid base64 (content type 'base64')`,
      );
    }
    return new Uint8Array(Buffer.from(text, 'base64'));
  });
  return { ...tensor, data: decoded };
}

/** Encodes a `base64` output: each element becomes its base64 text (MLServer's Base64Codec). */
export function encodeBase64(tensor: Tensor): Tensor {
  const elements = bytesElements(tensor, 'output', 'base64');
  const encoded = elements.map((element) =>
    ascii.encode(
      Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString('base64'),
    ),
  );
  return { ...tensor, data: encoded };
}

/**
 * ISO 8601 as Python's `datetime.fromisoformat` reads it (what MLServer's DatetimeCodec decodes
 * with): a date, optionally a time (hours, minutes, seconds, a fraction) and an offset.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,]\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2}(?::\d{2})?)?)?$/;

/** Whether the text is an ISO 8601 date-time whose fields exist (no 30 February, no hour 24). */
function isDatetime(text: string): boolean {
  const match = ISO_8601.exec(text);
  if (match === null) return false;
  // Absent time fields are 0; the date fields are always there.
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((v: string | undefined) => Number(v ?? 0));
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const dateOk = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth;
  return dateOk && hour < 24 && minute < 60 && second < 60;
}

/** Checks that every element of a `datetime` tensor is an ISO 8601 date-time that exists. */
export function checkDatetimes(tensor: Tensor, kind: 'input' | 'output'): Tensor {
  const elements = bytesElements(tensor, kind, 'datetime');
  elements.forEach((element, index) => {
    let text = '';
    try {
      text = utf8.decode(element);
    } catch {
      // Not UTF-8, so not a date-time either: refused below.
    }
    if (!isDatetime(text)) {
      throw invalidInput(
        `${kind} '${shorten(tensor.name)}': element ${index} is not an ISO 8601 date-time (content type 'datetime'), e.g. 2022-01-11T11:00:00`,
      );
    }
  });
  return tensor;
}
