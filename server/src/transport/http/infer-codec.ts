/**
 * REST ⇄ core conversion for inference (inference_rest.md) including the binary tensor extension.
 * Converters only repackage; validation of tensors happens in the core.
 */
import { z } from 'zod';
import { invalidInput, shorten } from '../../errors.js';
import { formatIssues } from '../../core/model-settings.js';
import { placeOf } from '../../core/system-shared-memory.js';
import type { InferenceRequest, Parameters, RequestInput } from '../../core/types.js';
import type { ParsedBody } from './body-parser.js';

const parameterValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.record(z.string(), z.string()),
]);
const parameters = z.record(z.string(), parameterValue.or(z.null()));

// Unknown keys are ignored (z.object strips them): the KServe SDK adds `model_name` to every body.
const requestSchema = z.object({
  id: z.string().optional(),
  parameters: parameters.optional(),
  inputs: z
    .array(
      z.object({
        name: z.string().min(1),
        shape: z.array(z.unknown()),
        datatype: z.string().min(1),
        parameters: parameters.optional(),
        data: z.unknown().optional(),
      }),
    )
    .min(1, 'at least one input is required'),
  outputs: z
    .array(z.object({ name: z.string().min(1), parameters: parameters.optional() }))
    .optional(),
});

/** Converts a parsed REST body to a core request, slicing binary inputs out of the body tail. */
export function toCoreInferRequest(body: ParsedBody): InferenceRequest {
  const parsed = requestSchema.safeParse(body.json);
  if (!parsed.success)
    throw invalidInput(`invalid inference request: ${formatIssues(parsed.error)}`);
  const req = parsed.data;
  const binary = body.binary;
  let offset = 0;
  const inputs: RequestInput[] = req.inputs.map((input) => {
    const params = cleanParameters(input.parameters);
    const size = params?.['binary_data_size'];
    let data: RequestInput['data'];
    const place = placeOf(`input '${shorten(input.name)}'`, params);
    if (place !== undefined) {
      if (input.data !== undefined || size !== undefined) {
        throw invalidInput(
          `input '${shorten(input.name)}': its data is in shared memory, so the request must not carry it too ('data' or binary_data_size)`,
        );
      }
      data = { kind: 'shm', ...place };
    } else if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw invalidInput(
          `input '${shorten(input.name)}': binary_data_size must be a non-negative integer`,
        );
      }
      if (binary === undefined || offset + size > binary.length) {
        throw invalidInput(
          `input '${shorten(input.name)}': binary_data_size ${size} runs past the end of the binary data`,
        );
      }
      data = { kind: 'raw', bytes: binary.subarray(offset, offset + size) };
      offset += size;
    } else {
      data = { kind: 'json', value: input.data };
    }
    return {
      name: input.name,
      datatype: input.datatype,
      shape: input.shape,
      data,
      ...(params === undefined ? {} : { parameters: params }),
    };
  });
  if (binary !== undefined && offset !== binary.length) {
    throw invalidInput(
      `the body has ${binary.length - offset} bytes of binary data that no input claims (binary_data_size)`,
    );
  }
  const outputs = req.outputs?.map((o) => {
    const params = cleanParameters(o.parameters);
    return params === undefined ? { name: o.name } : { name: o.name, parameters: params };
  });
  const reqParams = cleanParameters(req.parameters);
  return {
    inputs,
    ...(req.id === undefined ? {} : { id: req.id }),
    ...(reqParams === undefined ? {} : { parameters: reqParams }),
    ...(outputs === undefined ? {} : { outputs }),
  };
}

function cleanParameters(params: Record<string, unknown> | undefined): Parameters | undefined {
  if (params === undefined) return undefined;
  const out: Parameters = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== null) out[key] = value as Parameters[string];
  }
  return out;
}

/** Which outputs go back as binary: per-output `binary_data`, else the request's `binary_data_output`. */
export function binaryOutputs(request: InferenceRequest): (name: string) => boolean {
  const fallback = request.parameters?.['binary_data_output'] === true;
  const perOutput = new Map<string, boolean>();
  for (const output of request.outputs ?? []) {
    const flag = output.parameters?.['binary_data'];
    if (typeof flag === 'boolean') perOutput.set(output.name, flag);
  }
  return (name) => perOutput.get(name) ?? fallback;
}

/** Response headers a runtime asked for through `parameters.headers`. */
export function responseHeaders(params: Parameters | undefined): Record<string, string> {
  const headers = params?.['headers'];
  if (headers === undefined || typeof headers !== 'object') return {};
  return { ...headers };
}
