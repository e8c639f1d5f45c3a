/**
 * MLServer's content types (mlserver-features.md §8): an annotation, `parameters.content_type`,
 * that says how a tensor's wire data is to be read (decoded) and how an output was written
 * (encoded). This file names the built-in ones and picks the one in force for a request, an
 * input and an output, in MLServer's order (codecs/utils.py `_get_content_type`): what the request
 * says, then the model's metadata in model-settings.json, then the runtime's default.
 */
import { invalidInput, shorten } from '../../errors.js';
import type { ModelSettings } from '../model-settings.js';
import type { Parameters, TensorMetadata } from '../types.js';

/** The built-in content types. `pd` is request-level only; the others are input-level. */
export const CONTENT_TYPES = ['np', 'pd', 'str', 'base64', 'datetime'] as const;

/** One built-in content type. */
export type ContentType = (typeof CONTENT_TYPES)[number];

/** Content types that apply to one input or output (MLServer's InputCodecs). */
export const INPUT_CONTENT_TYPES: readonly ContentType[] = ['np', 'str', 'base64', 'datetime'];

/** Content types that apply to a whole request (MLServer's RequestCodecs). */
export const REQUEST_CONTENT_TYPES: readonly ContentType[] = ['np', 'pd', 'str'];

function isContentType(value: string): value is ContentType {
  return (CONTENT_TYPES as readonly string[]).includes(value);
}

/**
 * The `content_type` of a parameters object, checked. `where` names the object in messages
 * (`input 'x'`, `the request`). An unknown name is refused rather than ignored: MLServer skips
 * decoding then, and the model would see data it was told is something else.
 */
export function contentTypeOf(
  params: Parameters | undefined,
  where: string,
  allowed: readonly ContentType[] = CONTENT_TYPES,
): ContentType | undefined {
  const value = params?.['content_type'];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') {
    throw invalidInput(`${where}: parameters.content_type must be a string`);
  }
  if (!isContentType(value)) {
    throw invalidInput(
      `${where}: unknown content type '${shorten(value)}'; known content types: ${CONTENT_TYPES.join(', ')}`,
    );
  }
  if (!allowed.includes(value)) {
    throw invalidInput(
      `${where}: content type '${value}' cannot be used here; use one of ${allowed.join(', ')}`,
    );
  }
  return value;
}

/** Whether a parameters object sets `content_type` at all (valid or not). */
function names(params: Parameters | undefined): boolean {
  const value = params?.['content_type'];
  return value !== undefined && value !== '';
}

/** Whether model-settings.json gives the tensor `name` a `content_type`. */
function declares(tensors: readonly TensorMetadata[], name: string): boolean {
  for (const t of tensors) if (t.name === name && names(t.parameters)) return true;
  return false;
}

/** The content type a model-settings.json tensor declares, if any. */
function declared(
  tensors: readonly TensorMetadata[],
  name: string,
  where: string,
  allowed: readonly ContentType[],
): ContentType | undefined {
  const spec = tensors.find((t) => t.name === name);
  return contentTypeOf(spec?.parameters, `${where} (model-settings.json)`, allowed);
}

/** An input's content type: its own `parameters.content_type`, else model-settings.json `inputs[]`. */
export function inputContentType(
  input: { readonly name: string; readonly parameters?: Parameters },
  settings: Pick<ModelSettings, 'inputs'>,
): ContentType | undefined {
  // Most requests name no content type: nothing to check, and no message text to build.
  if (!names(input.parameters) && !declares(settings.inputs, input.name)) return undefined;
  const where = `input '${shorten(input.name)}'`;
  return (
    contentTypeOf(input.parameters, where, INPUT_CONTENT_TYPES) ??
    declared(settings.inputs, input.name, where, INPUT_CONTENT_TYPES)
  );
}

/**
 * The request-level content type: the request's `parameters.content_type`, else the model's
 * `parameters.content_type` in model-settings.json, else the runtime's default.
 */
export function requestContentType(
  params: Parameters | undefined,
  settings: Pick<ModelSettings, 'contentType'>,
  runtimeDefault: ContentType | undefined,
): ContentType | undefined {
  return (
    contentTypeOf(params, 'the request', REQUEST_CONTENT_TYPES) ??
    contentTypeOf(
      settings.contentType === undefined ? undefined : { content_type: settings.contentType },
      "the model's parameters.content_type (model-settings.json)",
      REQUEST_CONTENT_TYPES,
    ) ??
    runtimeDefault
  );
}

/**
 * An output's content type as the request or the model asks for it: the requested output's
 * `parameters.content_type`, else model-settings.json `outputs[]`, else the runtime's default.
 */
export function outputContentType(
  name: string,
  requested: Parameters | undefined,
  settings: Pick<ModelSettings, 'outputs'>,
  runtimeDefault: ContentType | undefined,
): ContentType | undefined {
  if (!names(requested) && !declares(settings.outputs, name)) return runtimeDefault;
  const where = `output '${shorten(name)}'`;
  return (
    contentTypeOf(requested, where, INPUT_CONTENT_TYPES) ??
    declared(settings.outputs, name, where, INPUT_CONTENT_TYPES) ??
    runtimeDefault
  );
}

/**
 * Checks the content types model-settings.json declares (the model's `parameters.content_type`,
 * `inputs[].parameters.content_type`, `outputs[].parameters.content_type`) once, when the model
 * loads, so a typo fails the load with the field named instead of failing every request. Returns
 * the first problem as `field: reason`, or undefined.
 */
export function declaredContentTypeProblem(
  settings: Pick<ModelSettings, 'inputs' | 'outputs' | 'contentType'>,
): string | undefined {
  const checks: [Parameters | undefined, string, readonly ContentType[]][] = [
    [
      settings.contentType === undefined ? undefined : { content_type: settings.contentType },
      'parameters.content_type',
      REQUEST_CONTENT_TYPES,
    ],
    ...settings.inputs.map((t, i): [Parameters | undefined, string, readonly ContentType[]] => [
      t.parameters,
      `inputs[${String(i)}] '${shorten(t.name)}': parameters.content_type`,
      INPUT_CONTENT_TYPES,
    ]),
    ...settings.outputs.map((t, i): [Parameters | undefined, string, readonly ContentType[]] => [
      t.parameters,
      `outputs[${String(i)}] '${shorten(t.name)}': parameters.content_type`,
      INPUT_CONTENT_TYPES,
    ]),
  ];
  for (const [params, field, allowed] of checks) {
    try {
      contentTypeOf(params, field, allowed);
    } catch (error) {
      return (error as Error).message;
    }
  }
  return undefined;
}
