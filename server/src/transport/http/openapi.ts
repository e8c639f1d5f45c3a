/**
 * The OpenAPI 3 description of the REST data plane, served at `/v2/docs/dataplane.json` (MLServer
 * docs/user-guide/openapi.md) and specialised per model at `/v2/models/{m}/docs/dataplane.json`,
 * where the request example is built from the model's own inputs.
 */
import { DATATYPES } from '../../core/datatype.js';
import { exampleRequest } from '../../core/example-request.js';
import type { ModelMetadata } from '../../core/types.js';

const error = {
  description: 'Error',
  content: {
    'application/json': {
      schema: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
    },
  },
};

const schemas = {
  Parameters: {
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  },
  MetadataTensor: {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: {
      name: { type: 'string' },
      datatype: { $ref: '#/components/schemas/Datatype' },
      shape: { type: 'array', items: { type: 'integer' } },
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
      parameters: { $ref: '#/components/schemas/Parameters' },
      data: { description: 'Row-major tensor data, flat or nested.', type: 'array', items: {} },
    },
  },
  RequestOutput: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string' },
      parameters: { $ref: '#/components/schemas/Parameters' },
    },
  },
  InferenceRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string' },
      parameters: { $ref: '#/components/schemas/Parameters' },
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
  RepositoryIndexResponse: {
    type: 'array',
    items: {
      type: 'object',
      required: ['name', 'state', 'reason'],
      properties: {
        name: { type: 'string' },
        version: { type: 'string' },
        state: {
          type: 'string',
          enum: ['UNKNOWN', 'READY', 'UNAVAILABLE', 'LOADING', 'UNLOADING'],
        },
        reason: { type: 'string' },
      },
    },
  },
};

const json = (ref: string) => ({
  'application/json': { schema: { $ref: `#/components/schemas/${ref}` } },
});
const ok = (ref: string) => ({ description: 'OK', content: json(ref) });
const modelParam = { name: 'model_name', in: 'path', required: true, schema: { type: 'string' } };
const versionParam = {
  name: 'model_version',
  in: 'path',
  required: true,
  schema: { type: 'string' },
};

function modelPaths(prefix: string, params: object[], example?: object): Record<string, object> {
  const requestBody = {
    required: true,
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/InferenceRequest' },
        ...(example ? { example } : {}),
      },
    },
  };
  return {
    [prefix]: {
      get: {
        summary: 'Model metadata',
        parameters: params,
        responses: { 200: ok('MetadataModelResponse'), 404: error },
      },
    },
    [`${prefix}/ready`]: {
      get: {
        summary: 'Model ready',
        parameters: params,
        responses: { 200: { description: 'Ready' }, 503: error, 404: error },
      },
    },
    [`${prefix}/infer`]: {
      post: {
        summary: 'Inference',
        parameters: params,
        requestBody,
        responses: { 200: ok('InferenceResponse'), 400: error, 404: error, 503: error },
      },
    },
  };
}

/** The whole data plane's OpenAPI document. */
export function dataplaneSpec(serverVersion: string, rootPath: string): object {
  return {
    openapi: '3.0.3',
    info: { title: 'Tessera data plane (V2 / Open Inference Protocol)', version: serverVersion },
    servers: [{ url: rootPath === '' ? '/' : rootPath }],
    paths: {
      '/v2/health/live': {
        get: { summary: 'Server live', responses: { 200: { description: 'Live' } } },
      },
      '/v2/health/ready': {
        get: { summary: 'Server ready', responses: { 200: { description: 'Ready' }, 503: error } },
      },
      '/v2': {
        get: { summary: 'Server metadata', responses: { 200: ok('MetadataServerResponse') } },
      },
      ...modelPaths('/v2/models/{model_name}', [modelParam]),
      ...modelPaths('/v2/models/{model_name}/versions/{model_version}', [modelParam, versionParam]),
      '/v2/repository/index': {
        post: {
          summary: 'Repository index',
          requestBody: {
            content: {
              'application/json': {
                schema: { type: 'object', properties: { ready: { type: 'boolean' } } },
              },
            },
          },
          responses: { 200: ok('RepositoryIndexResponse') },
        },
      },
      '/v2/repository/models/{model_name}/load': {
        post: {
          summary: 'Load or reload a model',
          parameters: [modelParam],
          responses: { 200: { description: 'Loaded' }, 404: error, 422: error },
        },
      },
      '/v2/repository/models/{model_name}/unload': {
        post: {
          summary: 'Unload a model',
          parameters: [modelParam],
          responses: { 200: { description: 'Unloaded' }, 404: error },
        },
      },
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
