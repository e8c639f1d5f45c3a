/**
 * Checks a request against the model's declared inputs and outputs (reliability-catalogue §4 A4,
 * A5): every input known, none twice, none missing, datatype and shape as declared, requested
 * outputs known and unique.
 */
import { invalidInput, shorten } from '../errors.js';
import type { InstanceMetadata } from './model-runtime.js';
import { formatShape, shapeMatches } from './shape.js';
import { decodeTensor } from './tensor-decode.js';
import type {
  InferenceRequest,
  RequestInput,
  RequestOutput,
  Tensor,
  TensorMetadata,
} from './types.js';

/** Decodes and validates all inputs of a request against a model's metadata. */
export function decodeInputs(request: InferenceRequest, metadata: InstanceMetadata): Tensor[] {
  // Array.isArray narrows a typed array to any[]; keep the declared element type.
  const inputs: readonly RequestInput[] = Array.isArray(request.inputs) ? request.inputs : [];
  if (inputs.length === 0) throw invalidInput("request has no 'inputs'");
  const declared = declaredInputs(inputs, metadata);
  const seen = new Set<string>();
  const tensors: Tensor[] = [];
  for (const input of inputs) {
    const shown = shorten(input.name);
    if (seen.has(input.name)) throw invalidInput(`input '${shown}' appears more than once`);
    seen.add(input.name);
    const spec = declared.get(input.name);
    if (spec === undefined && declared.size > 0) {
      throw invalidInput(
        `unknown input '${shown}'; the model takes: ${[...declared.keys()].join(', ')}`,
      );
    }
    const tensor = decodeTensor(input);
    if (spec !== undefined) {
      if (tensor.datatype !== spec.datatype) {
        throw invalidInput(
          `input '${shown}': datatype ${tensor.datatype} does not match the model's ${spec.datatype}`,
        );
      }
      if (spec.shape.length > 0 && !shapeMatches(tensor.shape, spec.shape)) {
        throw invalidInput(
          `input '${shown}': shape ${formatShape(tensor.shape)} does not match the model's ${formatShape(spec.shape)} (-1 = any size)`,
        );
      }
    }
    tensors.push(tensor);
  }
  const missing = [...declared.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) throw invalidInput(`missing required input(s): ${missing.join(', ')}`);
  return tensors;
}

/**
 * The inputs a request is checked against, by name. A model that takes any name for its single
 * input (MLServer's NumPy request codec) has its one input renamed to the request's.
 */
function declaredInputs(
  inputs: readonly RequestInput[],
  metadata: InstanceMetadata,
): Map<string, TensorMetadata> {
  const [only, ...others] = metadata.inputs;
  const [input, ...rest] = inputs;
  if (metadata.anyInputName === true && only && input && others.length + rest.length === 0) {
    return new Map([[input.name, { ...only, name: input.name }]]);
  }
  return new Map(metadata.inputs.map((t) => [t.name, t]));
}

/** Validates requested outputs and returns their names, or undefined for "all outputs". */
export function requestedOutputNames(
  outputs: readonly RequestOutput[] | undefined,
  metadata: InstanceMetadata,
): string[] | undefined {
  if (outputs === undefined || outputs.length === 0) return undefined;
  const known = new Set(metadata.outputs.map((t) => t.name));
  const names: string[] = [];
  for (const output of outputs) {
    if (names.includes(output.name)) {
      throw invalidInput(`output '${shorten(output.name)}' is requested more than once`);
    }
    const reason = Object.hasOwn(metadata.unavailableOutputs ?? {}, output.name)
      ? metadata.unavailableOutputs?.[output.name]
      : undefined;
    if (reason !== undefined) throw invalidInput(`output '${output.name}': ${reason}`);
    if (known.size > 0 && !known.has(output.name)) {
      throw invalidInput(
        `unknown output '${shorten(output.name)}'; the model produces: ${[...known].join(', ')}`,
      );
    }
    names.push(output.name);
  }
  return names;
}
