/**
 * Bounds on the work one inference may cause (reliability-catalogue §4 B11, B13). The body limit
 * alone does not bound it: a 30 MB JSON body of small numbers holds 15 M elements, and a model's
 * outputs can be many times larger than its inputs. So the elements of a request are counted from
 * the shapes before anything is decoded, and the outputs are measured before anything is encoded.
 */
import { ErrorCode, ServerError, shorten } from '../errors.js';
import { ELEMENT_SIZE, isDatatype } from './datatype.js';
import { elementCount, parseShape } from './shape.js';
import type { RequestInput, Tensor } from './types.js';

/** The limits, from settings (`max_request_elements`, `max_response_bytes`). */
export interface InferLimits {
  readonly maxRequestElements: number;
  readonly maxResponseBytes: number;
}

/**
 * Refuses a request whose shapes hold more elements in all than the limit, before decoding. A
 * shape that does not parse counts nothing here: decoding reports it, in validation's own order.
 */
export function checkRequestElements(inputs: readonly RequestInput[], max: number): void {
  let total = 0;
  for (const input of inputs) {
    total += countOrZero(input);
  }
  if (total > max) {
    throw new ServerError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `the request has ${total} tensor elements, more than the limit of ${max} (max_request_elements); send fewer rows per request`,
    );
  }
}

function countOrZero(input: RequestInput): number {
  const name = shorten(input.name);
  try {
    return elementCount(name, parseShape(name, input.shape));
  } catch {
    return 0;
  }
}

/** The bytes of a tensor in raw form (binary extension, raw contents): a floor for any encoding. */
export function rawByteLength(tensor: Tensor): number {
  const data = tensor.data;
  if (Array.isArray(data)) {
    let total = 0;
    for (const element of data as readonly Uint8Array[]) total += 4 + element.byteLength;
    return total;
  }
  const size = isDatatype(tensor.datatype) ? ELEMENT_SIZE[tensor.datatype] : 1;
  return (data as ArrayLike<unknown>).length * size;
}

/** The error for a response over the limit; encoders that measure as they go raise it too. */
export function responseTooLarge(model: string, bytes: number, max: number): ServerError {
  return new ServerError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `the response of model '${shorten(model)}' is larger than the limit of ${max} bytes (max_response_bytes; ${bytes} bytes of output data or more); send fewer rows per request`,
  );
}

/** Refuses outputs whose raw size alone exceeds the limit, before they are encoded. */
export function checkResponseBytes(model: string, outputs: readonly Tensor[], max: number): void {
  let total = 0;
  // An output written to shared memory does not travel in the response.
  for (const tensor of outputs)
    if (tensor.sharedMemory === undefined) total += rawByteLength(tensor);
  if (total > max) throw responseTooLarge(model, total, max);
}
