/**
 * Reads a request's inputs into the tensors a runtime is given, with MLServer's content types
 * (mlserver-features.md §8.1): each input is decoded by its own content type (`str`, `base64`,
 * `datetime`, `np`), the request by its request-level one (`pd`, `np`, `str`), with defaults from
 * model-settings.json and the runtime. Written once here for REST and gRPC alike.
 *
 * Two ways of matching inputs to the model, chosen by the runtime
 * ({@link InstanceMetadata.mlserverInputs}):
 * - MLServer's (runtimes served under MLServer implementation names): a model with one input takes
 *   a single tensor whatever its name, or a dataframe whose columns are its features; numeric
 *   datatypes convert to the model's. This is what `NumpyRequestCodec`, `PandasCodec` and
 *   `StringRequestCodec` requests need (mlserver runtimes' `decode_request(payload,
 *   default_codec=NumpyRequestCodec)`).
 * - Triton's (`onnx`): inputs match the model's by name, datatype and shape exactly.
 */
import { invalidInput, shorten } from '../../errors.js';
import type { InstanceMetadata } from '../model-runtime.js';
import type { ModelSettings } from '../model-settings.js';
import { checkInput, checkUniqueNames, matchByName } from '../request-validation.js';
import { decodeTensor } from '../tensor-decode.js';
import type { InferenceRequest, RequestInput, Tensor, TensorMetadata } from '../types.js';
import { checkDatetimes, checkStrings, decodeBase64 } from './bytes-codecs.js';
import { inputContentType, requestContentType, type ContentType } from './content-type.js';
import { castTensor, isCastable, withBatchDimension } from './numpy-codec.js';
import { columnsToMatrix } from './pandas-codec.js';

/** Decodes and validates a request's inputs for a model; throws a 400 naming what is wrong. */
export function decodeRequest(
  request: InferenceRequest,
  metadata: InstanceMetadata,
  settings: Pick<ModelSettings, 'inputs' | 'contentType'>,
): Tensor[] {
  // Array.isArray narrows a typed array to any[]; keep the declared element type.
  const inputs: readonly RequestInput[] = Array.isArray(request.inputs) ? request.inputs : [];
  if (inputs.length === 0) throw invalidInput("request has no 'inputs'");
  checkUniqueNames(inputs);
  if (metadata.appliesContentTypes === true) {
    // The runtime's own codecs read the content types (MLServer's Python runtimes), and, as in
    // MLServer, the runtime checks the inputs, not the metadata: MLServer's MLflow example sends
    // FP32 columns of shape [1] where the signature says double columns [-1, 1], its NumPy
    // request codec names a tensor input-1 where the metadata says input-0, MLflow ignores
    // columns its signature lacks and some it lists are optional (docs/python-runtimes.md).
    return inputs.map((input) => decodeTensor(input));
  }
  const requestType = requestContentType(request.parameters, settings, metadata.defaultContentType);
  if (metadata.mlserverInputs !== true) {
    // Names first: an unknown input is reported before any data is decoded.
    const specs = new Map(matchByName(inputs, metadata.inputs).map(([i, s]) => [i.name, s]));
    return inputs.map((input) => {
      const [tensor, type] = decodeInput(input, settings, requestType);
      return conform(tensor, specs.get(input.name), usesNumpy(type, requestType), false);
    });
  }
  const tensors = inputs.map((input) => decodeInput(input, settings, requestType));
  return mlserverInputs(tensors, metadata.inputs, requestType);
}

/** One input decoded by its content type; returns the tensor and that content type. */
function decodeInput(
  input: RequestInput,
  settings: Pick<ModelSettings, 'inputs'>,
  requestType: ContentType | undefined,
): [Tensor, ContentType | undefined] {
  const own = inputContentType(input, settings);
  // StringRequestCodec decodes its (first) input as `str` (codecs/string.py StringRequestCodec).
  const type = own ?? (requestType === 'str' ? 'str' : undefined);
  const tensor = decodeTensor(input, { nullAsNaN: usesNumpy(type, requestType) });
  switch (type) {
    case 'str':
      return [checkStrings(tensor), type];
    case 'base64':
      return [decodeBase64(tensor), type];
    case 'datetime':
      return [checkDatetimes(tensor, 'input'), type];
    case 'np':
    case 'pd':
    case undefined:
      return [tensor, type];
  }
}

/** Whether an input is read as a NumPy array: its own `np`, or a request-level `np` / `pd`. */
function usesNumpy(own: ContentType | undefined, requestType: ContentType | undefined): boolean {
  return own === 'np' || (own === undefined && (requestType === 'np' || requestType === 'pd'));
}

/**
 * Brings a tensor to the model's declaration: `[N]` read as `[N, 1]` where the model takes rows
 * of features and the tensor is a NumPy array; numeric datatypes converted when `convert`.
 */
function conform(
  tensor: Tensor,
  spec: TensorMetadata | undefined,
  numpy: boolean,
  convert: boolean,
): Tensor {
  if (spec === undefined) return tensor;
  let out = tensor;
  if (numpy && tensor.shape.length === 1 && spec.shape.length === 2) {
    out = { ...out, shape: withBatchDimension(tensor.shape) };
  }
  if (
    convert &&
    out.datatype !== spec.datatype &&
    isCastable(out.datatype) &&
    isCastable(spec.datatype)
  ) {
    out = castTensor(out, spec.datatype);
  }
  checkInput(out, spec);
  return out;
}

/** MLServer's matching: see the file comment. */
function mlserverInputs(
  decoded: readonly [Tensor, ContentType | undefined][],
  declared: readonly TensorMetadata[],
  requestType: ContentType | undefined,
): Tensor[] {
  const [only, ...others] = declared;
  if (only === undefined) return decoded.map(([tensor]) => tensor);
  if (others.length > 0) {
    // Several model inputs: the columns (or tensors) are matched to them by name.
    const specs = new Map(
      matchByName(
        decoded.map(([t]) => t),
        declared,
      ).map(([t, s]) => [t.name, s]),
    );
    return decoded.map(([tensor, type]) =>
      conform(tensor, specs.get(tensor.name), usesNumpy(type, requestType), true),
    );
  }
  const tensors = decoded.map(([tensor]) => tensor);
  if (requestType === 'pd') {
    const frame = columnsToMatrix(tensors, only.datatype, only.name);
    checkInput(frame, only);
    return [frame];
  }
  const [first, ...rest] = decoded;
  if (first === undefined || rest.length > 0) {
    throw invalidInput(
      `the model takes one input, got ${decoded.length} (${decoded.map(([t]) => `'${shorten(t.name)}'`).join(', ')}); send one tensor, or the columns of a dataframe with parameters.content_type "pd"`,
    );
  }
  const [tensor, type] = first;
  // Checked under the client's name, then given the model's: ONNX feeds its input by name.
  return [{ ...conform(tensor, only, usesNumpy(type, requestType), true), name: only.name }];
}
