/**
 * Checks what a custom runtime returned before it goes anywhere: an object with an `outputs` array
 * of tensors whose names are unique, datatypes known, shapes non-negative integers and data as
 * many valid elements as the shape says. Plain arrays become the datatype's typed array with the
 * same element checks as request data (core/tensor-decode.ts), so a runtime may return
 * `data: ['text']` or `data: [1, 2]`. A malformed answer is the model's fault: the client gets a
 * 500 naming the model and the problem, and the server carries on.
 */
import { ErrorCode, ServerError, getErrorMessage, shorten } from '../../errors.js';
import type { RuntimeResult } from '../../core/model-runtime.js';
import { decodeTensor } from '../../core/tensor-decode.js';
import type { Parameters, RequestInput, Tensor, WireData } from '../../core/types.js';

function malformed(model: string, message: string): ServerError {
  return new ServerError(
    ErrorCode.INFERENCE_FAILED,
    `model '${model}' returned a malformed response: ${message}`,
  );
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Element data as the decoder takes it: 16-bit floats travel as raw bytes. */
function wireData(datatype: unknown, data: unknown): WireData | undefined {
  if ((datatype === 'FP16' || datatype === 'BF16') && data instanceof Uint16Array) {
    return { kind: 'raw', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }
  if (Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView))) {
    return { kind: 'list', values: data as ArrayLike<number> };
  }
  return undefined;
}

function checkOutput(model: string, output: unknown, index: number): Tensor {
  if (!isObject(output)) throw malformed(model, `outputs[${index}] is not an object`);
  const { name, datatype, shape, data, parameters } = output;
  if (typeof name !== 'string' || name === '') {
    throw malformed(model, `outputs[${index}] has no name`);
  }
  const shown = shorten(name);
  const wire = wireData(datatype, data);
  if (wire === undefined) {
    throw malformed(model, `output '${shown}': data must be an array or a typed array`);
  }
  if (typeof datatype !== 'string' || !Array.isArray(shape)) {
    throw malformed(model, `output '${shown}' needs a datatype and a shape`);
  }
  const input: RequestInput = {
    name,
    datatype,
    shape,
    data: wire,
    ...(isObject(parameters) ? { parameters: parameters as Parameters } : {}),
  };
  try {
    return decodeTensor(input);
  } catch (error) {
    // The decoder words its messages for request inputs.
    throw malformed(model, getErrorMessage(error).replace(/^input '/, "output '"));
  }
}

/** Validates and normalises a runtime's response; throws INFERENCE_FAILED naming the model. */
export function checkRuntimeResponse(model: string, value: unknown): RuntimeResult {
  if (!isObject(value) || !Array.isArray(value['outputs'])) {
    throw malformed(model, "expected an object with an 'outputs' array");
  }
  const outputs = (value['outputs'] as unknown[]).map((o, i) => checkOutput(model, o, i));
  const names = new Set<string>();
  for (const output of outputs) {
    if (names.has(output.name)) {
      throw malformed(model, `output '${shorten(output.name)}' appears more than once`);
    }
    names.add(output.name);
  }
  const parameters = value['parameters'];
  if (parameters !== undefined && !isObject(parameters)) {
    throw malformed(model, "'parameters' must be an object");
  }
  return parameters === undefined ? { outputs } : { outputs, parameters: parameters as Parameters };
}
