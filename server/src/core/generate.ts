/**
 * Triton's generate extension (extension_generate.md; OIP generate_rest.yaml; v2-protocol.md
 * §3.8): a flat JSON document instead of tensors. Every top-level member other than `id` and
 * `parameters` is a model input of the same name (`text_input` for text models), `parameters` are
 * the request parameters, and each output tensor comes back as a member of the same name, a
 * one-element tensor as a bare value. A body with an `inputs` array is a V2 inference request
 * instead (MLServer's generate is an alias of infer); adapters check {@link isGenerateDocument}.
 */
import { invalidInput, shorten } from '../errors.js';
import { toJsonData } from './tensor-encode.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  Parameters,
  RequestInput,
  TensorMetadata,
} from './types.js';

/** Whether a JSON body is a generate document rather than a V2 request (no `inputs` array). */
export function isGenerateDocument(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && !('inputs' in body);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The datatype a JSON value takes when the model does not declare the input. */
function jsonDatatype(name: string, value: unknown): string {
  if (typeof value === 'string') return 'BYTES';
  if (typeof value === 'boolean') return 'BOOL';
  if (typeof value === 'number') return Number.isInteger(value) ? 'INT64' : 'FP64';
  throw invalidInput(
    `generate member '${shorten(name)}' must be a string, number, boolean or an array of them`,
  );
}

function toInput(name: string, value: unknown, declared?: TensorMetadata): RequestInput {
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.length === 0) throw invalidInput(`generate member '${shorten(name)}' is empty`);
  const datatype = declared?.datatype ?? jsonDatatype(name, values[0]);
  // A declared batch dimension ([-1, n] or [1, n]) gets a batch of one.
  const shape = (declared?.shape.length ?? 1) >= 2 ? [1, values.length] : [values.length];
  return { name, datatype, shape, data: { kind: 'json', value: values } };
}

/** A generate document as an inference request, typed by the model's declared inputs. */
export function fromGenerateDocument(
  body: Record<string, unknown>,
  metadata: Pick<ModelMetadata, 'inputs'>,
): InferenceRequest {
  const declared = new Map(metadata.inputs.map((t) => [t.name, t]));
  const inputs: RequestInput[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (name === 'id' || name === 'parameters') continue;
    inputs.push(toInput(name, value, declared.get(name)));
  }
  const { id, parameters } = body;
  if (id !== undefined && typeof id !== 'string')
    throw invalidInput("generate 'id' must be a string");
  if (parameters !== undefined && !isObject(parameters)) {
    throw invalidInput("generate 'parameters' must be an object");
  }
  return {
    inputs,
    ...(id === undefined ? {} : { id }),
    ...(parameters === undefined ? {} : { parameters: parameters as Parameters }),
  };
}

/** An inference response as a generate document: one member per output. */
export function toGenerateDocument(response: InferenceResponse): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    model_name: response.modelName,
    ...(response.modelVersion === undefined ? {} : { model_version: response.modelVersion }),
    id: response.id,
  };
  for (const tensor of response.outputs) {
    const data = toJsonData(tensor);
    doc[tensor.name] = data.length === 1 ? data[0] : data;
  }
  return doc;
}
