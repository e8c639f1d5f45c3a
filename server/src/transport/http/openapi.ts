/**
 * The OpenAPI 3 description of the REST data plane, served at `/v2/docs/dataplane.json` (MLServer
 * docs/user-guide/openapi.md) and specialised per model at `/v2/models/{m}/docs/dataplane.json`,
 * where the request example is built from the model's own inputs.
 *
 * Every operation lists the error codes its handler can raise; their statuses come from the one
 * status table (error-mapping.ts), so the document cannot disagree with what the server answers.
 * test/integration/server/openapi.test.ts walks every registered route against this document.
 */
import { repositoryIndexEntrySchema } from '@tessera/contract';
import { z } from 'zod';
import { DATATYPES } from '../../core/datatype.js';
import { exampleRequest } from '../../core/example-request.js';
import type { ModelMetadata } from '../../core/types.js';
import { ErrorCode } from '../../errors.js';
import { HTTP_STATUS } from './error-mapping.js';

type Schema = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
type Responses = Record<string, object>;

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' } },
  additionalProperties: false,
};

/** What each error code means to a client, as the response description shows it. */
const ERROR_TEXT: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.INVALID_INPUT]:
    'the request is malformed (bad JSON, tensor, parameter, model name or URL encoding)',
  [ErrorCode.MODEL_NOT_FOUND]: 'the model, or the requested version, is not in the repository',
  [ErrorCode.MODEL_NOT_READY]: 'the model is known but not serving (Retry-After: 1)',
  [ErrorCode.MODEL_LOAD_FAILED]: 'the model could not be loaded',
  [ErrorCode.PAYLOAD_TOO_LARGE]: 'the body (after decompression) is larger than max_body_bytes',
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 'the Content-Type or Content-Encoding is not supported',
  [ErrorCode.ROUTE_NOT_FOUND]: 'no such route',
  [ErrorCode.UNSUPPORTED]:
    'a protocol feature the server does not implement (Inference-Header-Content-Length: 0)',
  [ErrorCode.TIMEOUT]: 'inference took longer than infer_timeout_seconds',
  [ErrorCode.CANCELLED]: 'the client went away before the answer was ready (logged, not received)',
  [ErrorCode.SHUTTING_DOWN]: 'the server is shutting down',
  [ErrorCode.OVERLOADED]: "the model's batch queue is full; retry later",
  [ErrorCode.INFERENCE_FAILED]: 'the runtime failed on inputs that passed validation',
  [ErrorCode.INTERNAL]: 'an unexpected server error',
  [ErrorCode.ADMIN_ONLY]:
    'the repository API is served on the admin port only (admin_port is set); call it there',
};

/**
 * Responses every route can give whatever its handler does: a request the HTTP parser or router
 * refuses (400; 408 too slow; 431 headers too large), a defect (500), and 503 while the server
 * closes (fastify's return503OnClosing).
 */
const COMMON_ERRORS: readonly ErrorCode[] = [
  ErrorCode.INVALID_INPUT,
  ErrorCode.INTERNAL,
  ErrorCode.SHUTTING_DOWN,
];
const CONNECTION_ERRORS: Responses = {
  408: errorResponse('the request headers or body did not arrive in time'),
  431: errorResponse('the request headers are too large'),
};
/** What reading a body can raise (body-parser.ts, @fastify/compress). */
const BODY_ERRORS: readonly ErrorCode[] = [
  ErrorCode.INVALID_INPUT,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  ErrorCode.UNSUPPORTED,
];

function errorResponse(description: string): object {
  return { description, content: { 'application/json': { schema: ref('Error') } } };
}

/** Groups error codes by status: one response per status, describing every cause. */
function errorResponses(codes: readonly ErrorCode[]): Responses {
  const byStatus = new Map<number, Set<string>>();
  for (const code of new Set([...COMMON_ERRORS, ...codes])) {
    const status = HTTP_STATUS[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(ERROR_TEXT[code]));
  }
  const out: Responses = { ...CONNECTION_ERRORS };
  for (const [status, texts] of byStatus) {
    const response = errorResponse(`Error: ${[...texts].join('; ')}.`);
    out[String(status)] =
      codes.includes(ErrorCode.MODEL_NOT_READY) && status === 503
        ? { ...response, headers: { 'Retry-After': { schema: { type: 'integer' } } } }
        : response;
  }
  return out;
}

const parameters = { type: 'object', additionalProperties: {} };

const schemas: Record<string, Schema> = {
  Parameters: parameters,
  Error: errorBody,
  MetadataTensor: {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: {
      name: { type: 'string' },
      datatype: { $ref: '#/components/schemas/Datatype' },
      shape: { type: 'array', items: { type: 'integer' } },
      parameters: { $ref: '#/components/schemas/Parameters' },
    },
  },
  Datatype: { type: 'string', enum: [...DATATYPES] },
  RequestInput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
      datatype: { $ref: '#/components/schemas/Datatype' },
      parameters: {
        description:
          'binary_data_size (integer): this input is that many bytes of the binary section instead of `data` (binary tensor extension).',
        allOf: [{ $ref: '#/components/schemas/Parameters' }],
      },
      data: { description: 'Row-major tensor data, flat or nested.', type: 'array', items: {} },
    },
  },
  RequestOutput: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string' },
      parameters: {
        description: 'binary_data (boolean): return this output in the binary section.',
        allOf: [{ $ref: '#/components/schemas/Parameters' }],
      },
    },
  },
  InferenceRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string' },
      parameters: {
        description: 'binary_data_output (boolean): return every output in the binary section.',
        allOf: [{ $ref: '#/components/schemas/Parameters' }],
      },
      inputs: { type: 'array', items: { $ref: '#/components/schemas/RequestInput' } },
      outputs: { type: 'array', items: { $ref: '#/components/schemas/RequestOutput' } },
    },
  },
  ResponseOutput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer' } },
      datatype: { $ref: '#/components/schemas/Datatype' },
      parameters: { $ref: '#/components/schemas/Parameters' },
      data: { type: 'array', items: {} },
    },
  },
  InferenceResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      parameters: { $ref: '#/components/schemas/Parameters' },
      outputs: { type: 'array', items: { $ref: '#/components/schemas/ResponseOutput' } },
    },
  },
  MetadataModelResponse: {
    type: 'object',
    required: ['name', 'platform'],
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: { $ref: '#/components/schemas/MetadataTensor' } },
      outputs: { type: 'array', items: { $ref: '#/components/schemas/MetadataTensor' } },
      parameters: { $ref: '#/components/schemas/Parameters' },
    },
  },
  MetadataServerResponse: {
    type: 'object',
    required: ['name', 'version', 'extensions'],
    properties: {
      name: { type: 'string' },
      version: { type: 'string' },
      extensions: { type: 'array', items: { type: 'string' } },
    },
  },
  ModelList: {
    type: 'object',
    required: ['models'],
    properties: { models: { type: 'array', items: { type: 'string' } } },
  },
  ModelConfig: {
    type: 'object',
    description:
      "Triton's model configuration (model_config.proto, JSON form): the fields this server fills.",
    required: ['name', 'platform', 'backend', 'max_batch_size', 'input', 'output'],
    properties: {
      name: { type: 'string' },
      platform: { type: 'string', example: 'onnxruntime_onnx' },
      backend: { type: 'string', example: 'onnxruntime' },
      max_batch_size: { type: 'integer', minimum: 0 },
      input: { type: 'array', items: ref('ModelConfigTensor') },
      output: { type: 'array', items: ref('ModelConfigTensor') },
      instance_group: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string', enum: ['KIND_CPU'] },
            count: { type: 'integer', minimum: 1 },
          },
        },
      },
      dynamic_batching: {
        type: 'object',
        description: 'Present when max_batch_size > 1 and max_batch_time > 0.',
        properties: { max_queue_delay_microseconds: { type: 'integer', minimum: 0 } },
      },
    },
  },
  ModelConfigTensor: {
    type: 'object',
    required: ['name', 'data_type', 'dims'],
    properties: {
      name: { type: 'string' },
      data_type: { type: 'string', example: 'TYPE_FP32' },
      dims: {
        type: 'array',
        items: { type: 'integer' },
        description: 'Without the batch dimension when max_batch_size > 0; -1 = variable.',
      },
    },
  },
  Duration: {
    type: 'object',
    required: ['count', 'ns'],
    properties: { count: { type: 'integer' }, ns: { type: 'integer' } },
  },
  ModelStatisticsResponse: {
    type: 'object',
    required: ['model_stats'],
    properties: {
      model_stats: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            'name',
            'version',
            'last_inference',
            'inference_count',
            'execution_count',
            'inference_stats',
            'batch_stats',
          ],
          properties: {
            name: { type: 'string' },
            version: { type: 'string' },
            last_inference: { type: 'integer', description: 'Milliseconds since the epoch.' },
            inference_count: { type: 'integer' },
            execution_count: { type: 'integer' },
            inference_stats: {
              type: 'object',
              properties: Object.fromEntries(
                [
                  'success',
                  'fail',
                  'queue',
                  'compute_input',
                  'compute_infer',
                  'compute_output',
                  'cache_hit',
                  'cache_miss',
                ].map((k) => [k, ref('Duration')]),
              ),
            },
            batch_stats: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  batch_size: { type: 'integer' },
                  compute_input: ref('Duration'),
                  compute_infer: ref('Duration'),
                  compute_output: ref('Duration'),
                },
              },
            },
          },
        },
      },
    },
  },
  RepositoryLifecycleRequest: {
    type: 'object',
    properties: {
      parameters: {
        type: 'object',
        description:
          'Load: `config` (a JSON text: a Triton model configuration overriding the settings) and `file:<version>/<path>` (base64 file contents; needs `config`). Unload: `unload_dependents` (boolean). Any other parameter is refused with 400.',
        additionalProperties: {
          oneOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'integer' }],
        },
      },
    },
  },
  RepositoryIndexRequest: { type: 'object', properties: { ready: { type: 'boolean' } } },
  RepositoryIndexResponse: {
    type: 'array',
    // Generated from the contract's zod schema, the one the agent and the operator parse with.
    items: z.toJSONSchema(repositoryIndexEntrySchema, { target: 'openapi-3.0', io: 'output' }),
  },
};

const jsonOk = (description: string, schema: object): object => ({
  description,
  content: { 'application/json': { schema } },
});
const flag = (name: string): Schema => ({
  type: 'object',
  required: [name],
  properties: { [name]: { type: 'boolean', enum: [true] } },
});

const modelParam = {
  name: 'model_name',
  in: 'path',
  required: true,
  description: "Letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'.",
  schema: { type: 'string', maxLength: 253 },
};
const versionParam = { ...modelParam, name: 'model_version' };

/** Request headers of every body-taking route (Triton extension_binary_data.md; §1.10 headers). */
const bodyHeaders = [
  {
    name: 'Content-Encoding',
    in: 'header',
    required: false,
    description:
      'The body is compressed (when gzip_enabled); max_body_bytes bounds it decompressed.',
    schema: { type: 'string', enum: ['gzip', 'deflate'] },
  },
  {
    name: 'Inference-Header-Content-Length',
    in: 'header',
    required: false,
    description:
      'Binary tensor extension: the body is this many bytes of JSON followed by raw tensor bytes.',
    schema: { type: 'integer', minimum: 1 },
  },
];

/** Every content type the body parser accepts; each parses as JSON (+ binary section). */
function requestContent(schema: object, example?: object): object {
  const json = { schema, ...(example ? { example } : {}) };
  return {
    'application/json': json,
    'application/octet-stream': {
      schema: {
        type: 'string',
        format: 'binary',
        description:
          'Binary tensor extension: a JSON header of Inference-Header-Content-Length bytes, then the binary section.',
      },
    },
    'text/plain': json,
    'application/x-www-form-urlencoded': { schema: { type: 'string' } },
  };
}

function bodyOperation(op: {
  summary: string;
  params: object[];
  schema: object;
  required: boolean;
  example?: object;
  ok: Responses;
  errors: readonly ErrorCode[];
}): object {
  return {
    summary: op.summary,
    parameters: [...op.params, ...bodyHeaders],
    requestBody: { required: op.required, content: requestContent(op.schema, op.example) },
    responses: { ...op.ok, ...errorResponses([...BODY_ERRORS, ...op.errors]) },
  };
}

function getOperation(summary: string, params: object[], ok: Responses, errors: ErrorCode[]) {
  return { summary, parameters: params, responses: { ...ok, ...errorResponses(errors) } };
}

const MODEL_ERRORS = [ErrorCode.MODEL_NOT_FOUND, ErrorCode.MODEL_NOT_READY];
const INFER_ERRORS = [
  ...MODEL_ERRORS,
  ErrorCode.UNSUPPORTED,
  ErrorCode.TIMEOUT,
  ErrorCode.CANCELLED,
  ErrorCode.OVERLOADED,
  ErrorCode.INFERENCE_FAILED,
];
const html = {
  description: 'Swagger UI page',
  content: { 'text/html': { schema: { type: 'string' } } },
};
const openapiJson = jsonOk('The OpenAPI document', { type: 'object' });

function modelPaths(prefix: string, params: object[], example?: object): Record<string, object> {
  const inferOk = {
    200: {
      description:
        'Outputs as JSON; with binary outputs requested, a JSON header of Inference-Header-Content-Length bytes followed by the binary section.',
      headers: {
        'Inference-Header-Content-Length': {
          description: 'Present with binary outputs: the length of the JSON header.',
          schema: { type: 'integer' },
        },
      },
      content: {
        'application/json': { schema: ref('InferenceResponse') },
        'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      },
    },
  };
  return {
    [prefix]: {
      get: getOperation(
        'Model metadata',
        params,
        { 200: jsonOk('Metadata', ref('MetadataModelResponse')) },
        MODEL_ERRORS,
      ),
    },
    [`${prefix}/ready`]: {
      get: getOperation(
        'Model ready',
        params,
        {
          200: jsonOk('Ready', {
            type: 'object',
            required: ['name', 'ready'],
            properties: { name: { type: 'string' }, ready: { type: 'boolean', enum: [true] } },
          }),
        },
        MODEL_ERRORS,
      ),
    },
    [`${prefix}/infer`]: {
      post: bodyOperation({
        summary: 'Inference',
        params,
        schema: ref('InferenceRequest'),
        required: true,
        ...(example ? { example } : {}),
        ok: inferOk,
        errors: INFER_ERRORS,
      }),
    },
    [`${prefix}/config`]: {
      get: getOperation(
        "Model configuration (Triton's model configuration extension)",
        params,
        { 200: jsonOk('Configuration', ref('ModelConfig')) },
        MODEL_ERRORS,
      ),
    },
    [`${prefix}/stats`]: {
      get: getOperation(
        "Inference statistics of the model's serving versions (Triton's statistics extension)",
        params,
        { 200: jsonOk('Statistics', ref('ModelStatisticsResponse')) },
        MODEL_ERRORS,
      ),
    },
    ...streamPaths(prefix, params, inferOk),
    [`${prefix}/docs`]: {
      get: getOperation('Model Swagger UI', params, { 200: html }, MODEL_ERRORS),
    },
    [`${prefix}/docs/dataplane.json`]: {
      get: getOperation('Model OpenAPI document', params, { 200: openapiJson }, MODEL_ERRORS),
    },
  };
}

/** Triton's generate document (extension_generate.md): members are inputs, `parameters` the request's. */
const generateRequest = {
  type: 'object',
  description:
    'Every member other than id and parameters is a model input of that name (text_input for text models). A body with an inputs array is a V2 InferenceRequest instead.',
  properties: { id: { type: 'string' }, text_input: { type: 'string' }, parameters },
  additionalProperties: {},
};
const generateResponse = {
  type: 'object',
  description: 'One member per output tensor; a one-element tensor as a bare value.',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
  },
  additionalProperties: {},
};
const eventStream = {
  200: {
    description:
      'Server-sent events, one `data: <json>` event per response: an InferenceResponse (infer_stream, or generate_stream with a V2 request) or a generate document. An error after the first event arrives as a last `data: {"error": "..."}` event.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  },
};

/** generate, infer_stream and generate_stream (routes/stream.ts). */
function streamPaths(prefix: string, params: object[], inferOk: Responses): Record<string, object> {
  const either = { oneOf: [generateRequest, ref('InferenceRequest')] };
  return {
    [`${prefix}/generate`]: {
      post: bodyOperation({
        summary: 'Generate (Triton generate extension; a V2 request is served as infer)',
        params,
        schema: either,
        required: true,
        ok: {
          200: {
            ...(inferOk[200] as object),
            content: {
              'application/json': {
                schema: { oneOf: [generateResponse, ref('InferenceResponse')] },
              },
            },
          },
        },
        errors: INFER_ERRORS,
      }),
    },
    [`${prefix}/generate_stream`]: {
      post: bodyOperation({
        summary: 'Generate, streamed as server-sent events',
        params,
        schema: either,
        required: true,
        ok: eventStream,
        errors: INFER_ERRORS,
      }),
    },
    [`${prefix}/infer_stream`]: {
      post: bodyOperation({
        summary: 'Inference, streamed as server-sent events',
        params,
        schema: ref('InferenceRequest'),
        required: true,
        ok: eventStream,
        errors: INFER_ERRORS,
      }),
    },
  };
}

/** Triton's shared-memory extension (routes/shared-memory.ts). */
function sharedMemoryPaths(): Record<string, object> {
  const region = [
    {
      name: 'region_name',
      in: 'path',
      required: true,
      description: 'A shared-memory region name.',
      schema: { type: 'string' },
    },
  ];
  const regionStatus = {
    type: 'array',
    items: {
      type: 'object',
      required: ['name', 'key', 'offset', 'byte_size'],
      properties: {
        name: { type: 'string' },
        key: { type: 'string' },
        offset: { type: 'integer' },
        byte_size: { type: 'integer' },
      },
    },
  };
  const registration = {
    type: 'object',
    required: ['key', 'byte_size'],
    properties: {
      key: { type: 'string', description: "A POSIX shared-memory name such as '/input0'." },
      offset: { type: 'integer', minimum: 0 },
      byte_size: { type: 'integer', minimum: 0 },
    },
  };
  const errors = [ErrorCode.UNSUPPORTED];
  const done = { 200: jsonOk('Done', { type: 'object' }) };
  const system = '/v2/systemsharedmemory';
  const cuda = '/v2/cudasharedmemory';
  const cudaRefused = (summary: string, params: object[]): object =>
    getOperation(`${summary} (refused: CUDA shared memory is not supported)`, params, done, errors);
  return {
    [`${system}/status`]: {
      get: getOperation(
        'Status of every system shared-memory region',
        [],
        { 200: jsonOk('Regions', regionStatus) },
        errors,
      ),
    },
    [`${system}/region/{region_name}/status`]: {
      get: getOperation(
        'Status of one system shared-memory region',
        region,
        { 200: jsonOk('Region', regionStatus) },
        errors,
      ),
    },
    [`${system}/region/{region_name}/register`]: {
      post: bodyOperation({
        summary: 'Register a system shared-memory region (setting allow_client_shm)',
        params: region,
        schema: registration,
        required: true,
        ok: done,
        errors,
      }),
    },
    [`${system}/unregister`]: {
      post: getOperation('Unregister every system shared-memory region', [], done, errors),
    },
    [`${system}/region/{region_name}/unregister`]: {
      post: getOperation('Unregister one system shared-memory region', region, done, errors),
    },
    [`${cuda}/status`]: { get: cudaRefused('CUDA shared-memory status', []) },
    [`${cuda}/region/{region_name}/status`]: {
      get: cudaRefused('CUDA shared-memory status', region),
    },
    [`${cuda}/region/{region_name}/register`]: {
      post: cudaRefused('Register CUDA shared memory', region),
    },
    [`${cuda}/unregister`]: { post: cudaRefused('Unregister CUDA shared memory', []) },
    [`${cuda}/region/{region_name}/unregister`]: {
      post: cudaRefused('Unregister CUDA shared memory', region),
    },
  };
}

function docsPaths(): Record<string, object> {
  const file = {
    name: 'file',
    in: 'path',
    required: true,
    description: 'A Swagger UI asset (may contain slashes).',
    schema: { type: 'string' },
  };
  const js = {
    200: {
      description: 'Script',
      content: { 'application/javascript': { schema: { type: 'string' } } },
    },
  };
  return {
    '/v2/docs': { get: getOperation('Swagger UI for the data plane', [], { 200: html }, []) },
    '/v2/docs/dataplane.json': {
      get: getOperation('This OpenAPI document', [], { 200: openapiJson }, []),
    },
    '/v2/docs/json': {
      get: getOperation('This OpenAPI document (Swagger UI)', [], { 200: openapiJson }, []),
    },
    '/v2/docs/yaml': {
      get: getOperation(
        'This OpenAPI document as YAML (Swagger UI)',
        [],
        {
          200: {
            description: 'YAML',
            content: { 'application/x-yaml': { schema: { type: 'string' } } },
          },
        },
        [],
      ),
    },
    '/v2/docs/static/index.html': {
      get: getOperation(
        'Redirects to the Swagger UI page',
        [],
        { 302: { description: 'Redirect', headers: { Location: { schema: { type: 'string' } } } } },
        [],
      ),
    },
    '/v2/docs/static/swagger-initializer.js': {
      get: getOperation('Swagger UI start-up script', [], js, []),
    },
    '/v2/docs/static/{file}': {
      get: getOperation(
        'Swagger UI assets',
        [file],
        {
          200: {
            description: 'The asset',
            content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          },
        },
        [ErrorCode.ROUTE_NOT_FOUND],
      ),
    },
  };
}

const DESCRIPTION = `Open Inference Protocol REST API with the binary tensor and model repository extensions.
Every GET route also answers HEAD. Errors are \`{"error": "<message>"}\`; an unknown route is 404.
An invalid model name is 400 and a valid but unknown one 404 (docs/errors.md).`;

/** The whole data plane's OpenAPI document. */
export function dataplaneSpec(serverVersion: string, rootPath: string): object {
  const model = [modelParam];
  const version = [modelParam, versionParam];
  return {
    openapi: '3.0.3',
    info: {
      title: 'Tessera data plane (V2 / Open Inference Protocol)',
      version: serverVersion,
      description: DESCRIPTION,
    },
    servers: [{ url: rootPath === '' ? '/' : rootPath }],
    paths: {
      '/v2/health/live': {
        get: getOperation('Server live', [], { 200: jsonOk('Live', flag('live')) }, []),
      },
      '/v2/health/ready': {
        get: getOperation('Server ready', [], { 200: jsonOk('Ready', flag('ready')) }, []),
      },
      '/v2': {
        get: getOperation(
          'Server metadata',
          [],
          { 200: jsonOk('Metadata', ref('MetadataServerResponse')) },
          [],
        ),
      },
      '/v2/models': {
        get: getOperation(
          'Names of the ready models',
          [],
          { 200: jsonOk('Models', ref('ModelList')) },
          [],
        ),
      },
      '/v2/models/stats': {
        get: getOperation(
          'Inference statistics of every serving model version',
          [],
          { 200: jsonOk('Statistics', ref('ModelStatisticsResponse')) },
          [],
        ),
      },
      ...modelPaths('/v2/models/{model_name}', model),
      ...modelPaths('/v2/models/{model_name}/versions/{model_version}', version),
      '/v2/repository/index': {
        post: bodyOperation({
          summary: 'Repository index',
          params: [],
          schema: ref('RepositoryIndexRequest'),
          required: false,
          ok: { 200: jsonOk('Index', ref('RepositoryIndexResponse')) },
          errors: [],
        }),
      },
      '/v2/repository/models/{model_name}/load': {
        post: bodyOperation({
          summary: 'Load or reload a model, optionally with a config and files',
          params: model,
          schema: ref('RepositoryLifecycleRequest'),
          required: false,
          ok: { 200: jsonOk('Loaded', { type: 'object' }) },
          errors: [ErrorCode.MODEL_NOT_FOUND, ErrorCode.MODEL_LOAD_FAILED],
        }),
      },
      '/v2/repository/models/{model_name}/unload': {
        post: bodyOperation({
          summary: 'Unload a model',
          params: model,
          schema: ref('RepositoryLifecycleRequest'),
          required: false,
          ok: { 200: jsonOk('Unloaded', { type: 'object' }) },
          errors: [ErrorCode.MODEL_NOT_FOUND],
        }),
      },
      ...sharedMemoryPaths(),
      ...docsPaths(),
    },
    components: { schemas },
  };
}

/** One model's OpenAPI document, with an example request built from its metadata. */
export function modelSpec(
  metadata: ModelMetadata,
  serverVersion: string,
  rootPath: string,
): object {
  const example = exampleRequest(metadata);
  const prefix = `/v2/models/${metadata.name}`;
  return {
    openapi: '3.0.3',
    info: {
      title: `Model ${metadata.name} (V2 / Open Inference Protocol)`,
      version: serverVersion,
      description: DESCRIPTION,
    },
    servers: [{ url: rootPath === '' ? '/' : rootPath }],
    paths: modelPaths(prefix, [], example),
    components: { schemas },
  };
}

/** A Swagger UI page that loads `specUrl`, using the assets served under /v2/docs/static. */
export function docsPage(title: string, specUrl: string, staticPrefix: string): string {
  const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escape(title)}</title>
<link rel="stylesheet" href="${escape(staticPrefix)}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="${escape(staticPrefix)}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl).replace(/</g, '\\u003c')}, dom_id: '#swagger-ui' });</script>
</body></html>`;
}
