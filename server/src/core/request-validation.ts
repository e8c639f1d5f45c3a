/**
 * Checks a request against the model's declared inputs and outputs (reliability-catalogue §4 A4,
 * A5): every input known, none twice, none missing, datatype and shape as declared, requested
 * outputs known and unique.
 */
import { invalidInput, shorten } from '../errors.js';
import type { InstanceMetadata } from './model-runtime.js';
import { formatShape, shapeMatches } from './shape.js';
import type { RequestInput, RequestOutput, Tensor, TensorMetadata } from './types.js';

/** Checks a decoded input against the model's declaration of it: datatype and shape. */
export function checkInput(tensor: Tensor, spec: TensorMetadata): void {
  const shown = shorten(tensor.name);
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

/** Refuses a request that names an input twice. */
export function checkUniqueNames(inputs: readonly RequestInput[]): void {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name))
      throw invalidInput(`input '${shorten(input.name)}' appears more than once`);
    seen.add(input.name);
  }
}

/**
 * Matches inputs to the model's declared inputs by name, as Triton does: every input known, none
 * missing. Returns each input with its declaration (undefined when the model declares none).
 */
export function matchByName<T extends { readonly name: string }>(
  tensors: readonly T[],
  declared: readonly TensorMetadata[],
): [T, TensorMetadata | undefined][] {
  const specs = new Map(declared.map((t) => [t.name, t]));
  const matched = tensors.map((tensor): [T, TensorMetadata | undefined] => {
    const spec = specs.get(tensor.name);
    if (spec === undefined && specs.size > 0) {
      throw invalidInput(
        `unknown input '${shorten(tensor.name)}'; the model takes: ${[...specs.keys()].join(', ')}`,
      );
    }
    return [tensor, spec];
  });
  const seen = new Set(tensors.map((t) => t.name));
  const missing = [...specs.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) throw invalidInput(`missing required input(s): ${missing.join(', ')}`);
  return matched;
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
    // A runtime with its own codecs answers what it answers (MLServer checks no names: MLflow's
    // runtime names its outputs output-1... while the signature's metadata says output-0...).
    if (known.size > 0 && !known.has(output.name) && metadata.appliesContentTypes !== true) {
      throw invalidInput(
        `unknown output '${shorten(output.name)}'; the model produces: ${[...known].join(', ')}`,
      );
    }
    names.push(output.name);
  }
  return names;
}
