/**
 * Encodes a runtime's outputs with their content types and labels each with it in
 * `parameters.content_type`, as MLServer's `encode_response_output` does (codecs/utils.py): the
 * requested output's content type, else model-settings.json `outputs[]`, else the runtime's default
 * (`np` for MLServer's runtimes). An output the runtime labelled itself goes out as it made it. An output with no content type
 * goes out unlabelled, as Triton sends it: the C++ Triton client refuses output `parameters`
 * without `binary_data_size` (v2-protocol.md §1.5), so models served as `onnx` only carry a label
 * when one was asked for.
 */
import type { InstanceMetadata } from '../model-runtime.js';
import type { ModelSettings } from '../model-settings.js';
import type { RequestOutput, Tensor } from '../types.js';
import { checkDatetimes, encodeBase64 } from './bytes-codecs.js';
import { outputContentType, type ContentType } from './content-type.js';
import { withBatchDimension } from './numpy-codec.js';
import { invalidInput, shorten } from '../../errors.js';

/** The outputs encoded and labelled with their content types. */
export function encodeOutputs(
  outputs: readonly Tensor[],
  requested: readonly RequestOutput[] | undefined,
  settings: Pick<ModelSettings, 'outputs'>,
  metadata: Pick<InstanceMetadata, 'defaultContentType' | 'appliesContentTypes'>,
): Tensor[] {
  // The runtime encoded and labelled its outputs with its own codecs (MLServer's Python ones).
  if (metadata.appliesContentTypes === true) return [...outputs];
  const runtimeDefault = metadata.defaultContentType;
  const asked = new Map((requested ?? []).map((o) => [o.name, o.parameters]));
  return outputs.map((tensor) => {
    const explicit = outputContentType(tensor.name, asked.get(tensor.name), settings, undefined);
    // An output the runtime labelled itself was encoded by it (MLServer: a runtime returns a
    // ResponseOutput its codec wrote), with its own content type, custom ones included.
    if (explicit === undefined && typeof tensor.parameters?.['content_type'] === 'string') {
      return tensor;
    }
    const type = explicit ?? runtimeDefault;
    return type === undefined ? tensor : label(encode(tensor, type), type);
  });
}

function encode(tensor: Tensor, type: ContentType): Tensor {
  // Every input codec writes a one-dimensional result as [N, 1] (inject_batch_dimension; the
  // StringCodec, Base64Codec and DatetimeCodec write [len, 1]).
  const shaped = { ...tensor, shape: withBatchDimension(tensor.shape) };
  switch (type) {
    case 'np':
      return shaped;
    case 'str':
      if (tensor.datatype !== 'BYTES') {
        throw invalidInput(
          `output '${shorten(tensor.name)}' is ${tensor.datatype}; content type 'str' needs a BYTES output`,
        );
      }
      return shaped;
    case 'base64':
      return encodeBase64(shaped);
    case 'datetime':
      return checkDatetimes(shaped, 'output');
    case 'pd':
      throw invalidInput(
        `output '${shorten(tensor.name)}': content type 'pd' applies to a whole request, not to one output`,
      );
  }
}

function label(tensor: Tensor, type: ContentType): Tensor {
  return { ...tensor, parameters: { ...(tensor.parameters ?? {}), content_type: type } };
}
