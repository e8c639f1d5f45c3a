// The OpenAPI document describes the REST API the server really serves: it is a valid OpenAPI 3
// document (checked by @apidevtools/swagger-parser), every route fastify registers has an operation
// and every operation a route, and for a table of requests covering every operation the status the
// running server answers is one the document lists for that operation.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { settingsSchema } from '../../../server/src/config.js';
import { DataPlane } from '../../../server/src/core/dataplane.js';
import { ModelRegistry } from '../../../server/src/core/model-registry.js';
import { ModelRepository } from '../../../server/src/core/model-repository.js';
import { createLogger } from '../../../server/src/observability/logger.js';
import { ServerMetrics } from '../../../server/src/observability/metrics.js';
import { buildHttpApp } from '../../../server/src/transport/http/app.js';
import { dataplaneSpec } from '../../../server/src/transport/http/openapi.js';
import { CUSTOM_ROUTE_URL } from '../../../server/src/transport/http/routes/custom-handlers.js';
import { registeredRoutes } from '../../../server/src/transport/http/routes/docs.js';
import { copyModels, startServer, type ServerProcess } from '../../support/server-process.js';

type Document = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** A fastify route as an OpenAPI path template (`:model` → `{model_name}`, `*` → `{file}`). */
function template(url: string): string {
  const path = url
    .replace(':model', '{model_name}')
    .replace(':version', '{model_version}')
    .replace(':region_name', '{region_name}')
    .replace(/\/\*$/, '/{file}');
  return path.length > 1 ? path.replace(/\/$/, '') : path;
}

function operations(doc: Document): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

async function validate(doc: object): Promise<void> {
  await SwaggerParser.validate(structuredClone(doc) as OpenAPI.Document);
}

void describe('the OpenAPI document', () => {
  void it('is valid OpenAPI 3 and has exactly the routes fastify registers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-openapi-'));
    const settings = settingsSchema.parse({ model_repository_root: dir, log_level: 'silent' });
    const logger = createLogger(settings);
    const metrics = new ServerMetrics({ restPrefix: settings.metrics_rest_server_prefix });
    const registry = new ModelRegistry({
      repository: new ModelRepository(dir),
      runtimes: [],
      observer: metrics,
      logger,
      drainTimeoutMs: 0,
    });
    const dataplane = new DataPlane({
      registry,
      observer: metrics,
      logger,
      server: { name: 'tessera', version: '0', extensions: [] },
      inferTimeoutMs: 1000,
      limits: {
        maxRequestElements: settings.max_request_elements,
        maxResponseBytes: settings.max_response_bytes,
      },
    });
    const app = await buildHttpApp({ settings, dataplane, metrics, logger });
    try {
      await app.ready();
      const doc = dataplaneSpec(settings.server_version, '') as Document;
      await validate(doc);
      const documented = new Set(operations(doc));
      const routes = new Set(
        registeredRoutes(app)
          // Models' own routes (MLflow's /invocations) are the models' to document, not V2's.
          .filter((r) => r.url !== CUSTOM_ROUTE_URL)
          .map((r) =>
            // fastify answers HEAD for every GET; the document says so once, in its description.
            r.method === 'HEAD' ? `GET ${template(r.url)}` : `${r.method} ${template(r.url)}`,
          ),
      );
      assert.ok(routes.size > 20, `${routes.size} routes recorded`);
      assert.deepEqual([...routes].filter((r) => !documented.has(r)).sort(), [], 'undocumented');
      assert.deepEqual([...documented].filter((o) => !routes.has(o)).sort(), [], 'no such route');
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  void describe('statuses the running server answers', () => {
    let server: ServerProcess;
    let models: Awaited<ReturnType<typeof copyModels>>;
    let doc: Document;

    before(async () => {
      models = await copyModels(
        'examples/models/simple',
        'test/fixtures/models/versioned',
        'test/fixtures/models/broken',
      );
      server = await startServer({
        folder: models.dir,
        env: { TESSERA_MAX_BODY_BYTES: '65536' },
      });
      doc = (await (await fetch(`${server.httpUrl}/v2/docs/dataplane.json`)).json()) as Document;
    });
    after(async () => {
      await server.stop();
      await models.cleanup();
    });

    void it('the served documents validate', async () => {
      await validate(doc);
      const model = await fetch(`${server.httpUrl}/v2/models/simple/docs/dataplane.json`);
      await validate((await model.json()) as object);
    });

    void it('documents the index entry as the contract defines it, memory_bytes included', async () => {
      const schemas = (doc as unknown as { components: { schemas: Record<string, unknown> } })
        .components.schemas;
      const entry = (
        schemas['RepositoryIndexResponse'] as {
          items: { properties: Record<string, { type?: string; description?: string }> };
        }
      ).items;
      assert.equal(entry.properties['memory_bytes']?.type, 'integer');
      assert.match(entry.properties['memory_bytes']?.description ?? '', /memory/i);
      // What the server answers has only documented fields, and a loaded model its estimate.
      const response = await fetch(`${server.httpUrl}/v2/repository/index`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      const index = (await response.json()) as Record<string, unknown>[];
      for (const item of index) {
        for (const key of Object.keys(item)) assert.ok(key in entry.properties, key);
      }
      const simple = index.find((e) => e['name'] === 'simple');
      assert.equal(simple?.['state'], 'READY');
      assert.ok(Number.isInteger(simple['memory_bytes']) && Number(simple['memory_bytes']) > 0);
    });

    const json = { 'content-type': 'application/json' };
    const row = Array.from({ length: 16 }, (_, i) => i);
    const simple = {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({
        name,
        datatype: 'INT32',
        shape: [1, 16],
        data: row,
      })),
    };
    const binaryHeader = Buffer.from(
      JSON.stringify({
        inputs: ['INPUT0', 'INPUT1'].map((name) => ({
          name,
          datatype: 'INT32',
          shape: [1, 16],
          parameters: { binary_data_size: 64 },
        })),
        parameters: { binary_data_output: true },
      }),
    );
    const binaryBody = Buffer.concat([
      binaryHeader,
      Buffer.from(Int32Array.from([...row, ...row]).buffer),
    ]);
    const infer = (model: string, body: string | Buffer, headers: Record<string, string> = json) =>
      ({ method: 'POST', path: `/v2/models/${model}/infer`, headers, body }) as const;

    // [operation, request, status]; run in order (load and unload change the state last).
    const cases: [
      string,
      { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
      number,
    ][] = [
      ['GET /v2/health/live', { path: '/v2/health/live' }, 200],
      // Shared memory is off unless allow_client_shm (system-shared-memory.test.ts turns it on).
      ['GET /v2/systemsharedmemory/status', { path: '/v2/systemsharedmemory/status' }, 501],
      [
        'GET /v2/systemsharedmemory/region/{region_name}/status',
        { path: '/v2/systemsharedmemory/region/r/status' },
        501,
      ],
      [
        'POST /v2/systemsharedmemory/region/{region_name}/register',
        {
          method: 'POST',
          path: '/v2/systemsharedmemory/region/r/register',
          headers: json,
          body: '{"key": "/r", "byte_size": 8}',
        },
        501,
      ],
      [
        'POST /v2/systemsharedmemory/unregister',
        { method: 'POST', path: '/v2/systemsharedmemory/unregister' },
        501,
      ],
      [
        'POST /v2/systemsharedmemory/region/{region_name}/unregister',
        { method: 'POST', path: '/v2/systemsharedmemory/region/r/unregister' },
        501,
      ],
      ['GET /v2/cudasharedmemory/status', { path: '/v2/cudasharedmemory/status' }, 501],
      [
        'GET /v2/cudasharedmemory/region/{region_name}/status',
        { path: '/v2/cudasharedmemory/region/r/status' },
        501,
      ],
      [
        'POST /v2/cudasharedmemory/region/{region_name}/register',
        {
          method: 'POST',
          path: '/v2/cudasharedmemory/region/r/register',
          headers: json,
          body: '{"key": "/r", "byte_size": 8}',
        },
        501,
      ],
      [
        'POST /v2/cudasharedmemory/unregister',
        { method: 'POST', path: '/v2/cudasharedmemory/unregister' },
        501,
      ],
      [
        'POST /v2/cudasharedmemory/region/{region_name}/unregister',
        { method: 'POST', path: '/v2/cudasharedmemory/region/r/unregister' },
        501,
      ],
      ['GET /v2/health/live', { method: 'HEAD', path: '/v2/health/live' }, 200],
      ['GET /v2/health/ready', { path: '/v2/health/ready' }, 200],
      ['GET /v2', { path: '/v2' }, 200],
      ['GET /v2/models', { path: '/v2/models' }, 200],
      ['GET /v2/models/{model_name}', { path: '/v2/models/simple' }, 200],
      ['GET /v2/models/{model_name}', { path: '/v2/models/nope' }, 404],
      ['GET /v2/models/{model_name}', { path: '/v2/models/broken' }, 503],
      ['GET /v2/models/{model_name}', { path: '/v2/models/..%2Fetc' }, 400],
      ['GET /v2/models/{model_name}', { path: '/v2/models/%E0%A4%A' }, 400],
      ['GET /v2/models/{model_name}', { path: `/v2/models/${'m'.repeat(300)}` }, 400],
      ['GET /v2/models/{model_name}/ready', { path: '/v2/models/simple/ready' }, 200],
      ['GET /v2/models/{model_name}/ready', { path: '/v2/models/nope/ready' }, 404],
      ['GET /v2/models/{model_name}/ready', { path: '/v2/models/broken/ready' }, 503],
      ['GET /v2/models/{model_name}/ready', { path: '/v2/models/..%2Fetc/ready' }, 400],
      [
        'GET /v2/models/{model_name}/versions/{model_version}',
        { path: '/v2/models/versioned/versions/2' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}',
        { path: '/v2/models/versioned/versions/9' },
        404,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/ready',
        { path: '/v2/models/versioned/versions/1/ready' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/ready',
        { path: '/v2/models/versioned/versions/9/ready' },
        404,
      ],
      ['POST /v2/models/{model_name}/infer', infer('simple', JSON.stringify(simple)), 200],
      [
        'POST /v2/models/{model_name}/infer',
        infer('simple', binaryBody, {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(binaryHeader.length),
        }),
        200,
      ],
      [
        'POST /v2/models/{model_name}/infer',
        infer('simple', gzipSync(JSON.stringify(simple)), { ...json, 'content-encoding': 'gzip' }),
        200,
      ],
      ['POST /v2/models/{model_name}/infer', infer('simple', '{"inputs": ['), 400],
      ['POST /v2/models/{model_name}/infer', infer('simple', JSON.stringify({ inputs: [] })), 400],
      [
        'POST /v2/models/{model_name}/infer',
        infer('simple', JSON.stringify(simple), { 'content-type': 'image/png' }),
        415,
      ],
      [
        'POST /v2/models/{model_name}/infer',
        infer('simple', JSON.stringify(simple), { ...json, 'content-encoding': 'br' }),
        415,
      ],
      ['POST /v2/models/{model_name}/infer', infer('simple', Buffer.alloc(100_000, 0x20)), 413],
      [
        'POST /v2/models/{model_name}/infer',
        infer('simple', JSON.stringify(simple), {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': '0',
        }),
        501,
      ],
      ['POST /v2/models/{model_name}/infer', infer('nope', JSON.stringify(simple)), 404],
      ['POST /v2/models/{model_name}/infer', infer('broken', JSON.stringify(simple)), 503],
      ['POST /v2/models/{model_name}/infer', infer('..%2Fsimple', JSON.stringify(simple)), 400],
      [
        'POST /v2/models/{model_name}/versions/{model_version}/infer',
        infer(
          'versioned/versions/1',
          JSON.stringify({
            inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
          }),
        ),
        200,
      ],
      [
        'POST /v2/models/{model_name}/versions/{model_version}/infer',
        infer('versioned/versions/9', JSON.stringify(simple)),
        404,
      ],
      [
        'POST /v2/models/{model_name}/generate',
        { ...infer('simple', JSON.stringify(simple)), path: '/v2/models/simple/generate' },
        200,
      ],
      [
        'POST /v2/models/{model_name}/generate',
        { ...infer('nope', JSON.stringify(simple)), path: '/v2/models/nope/generate' },
        404,
      ],
      [
        'POST /v2/models/{model_name}/versions/{model_version}/generate',
        {
          ...infer(
            'versioned',
            JSON.stringify({
              inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
            }),
          ),
          path: '/v2/models/versioned/versions/1/generate',
        },
        200,
      ],
      [
        'POST /v2/models/{model_name}/generate_stream',
        { ...infer('simple', JSON.stringify(simple)), path: '/v2/models/simple/generate_stream' },
        200,
      ],
      [
        'POST /v2/models/{model_name}/generate_stream',
        { ...infer('nope', JSON.stringify(simple)), path: '/v2/models/nope/generate_stream' },
        404,
      ],
      [
        'POST /v2/models/{model_name}/versions/{model_version}/generate_stream',
        {
          ...infer(
            'versioned',
            JSON.stringify({
              inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
            }),
          ),
          path: '/v2/models/versioned/versions/1/generate_stream',
        },
        200,
      ],
      [
        'POST /v2/models/{model_name}/infer_stream',
        { ...infer('simple', JSON.stringify(simple)), path: '/v2/models/simple/infer_stream' },
        200,
      ],
      [
        'POST /v2/models/{model_name}/infer_stream',
        { ...infer('nope', JSON.stringify(simple)), path: '/v2/models/nope/infer_stream' },
        404,
      ],
      [
        'POST /v2/models/{model_name}/versions/{model_version}/infer_stream',
        {
          ...infer(
            'versioned',
            JSON.stringify({
              inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
            }),
          ),
          path: '/v2/models/versioned/versions/1/infer_stream',
        },
        200,
      ],
      [
        'POST /v2/models/{model_name}/generate',
        { ...infer('simple', '{"x": {}}'), path: '/v2/models/simple/generate' },
        400,
      ],
      ['GET /v2/docs', { path: '/v2/docs' }, 200],
      ['GET /v2/docs/dataplane.json', { path: '/v2/docs/dataplane.json' }, 200],
      ['GET /v2/docs/json', { path: '/v2/docs/json' }, 200],
      ['GET /v2/docs/yaml', { path: '/v2/docs/yaml' }, 200],
      ['GET /v2/docs/static/index.html', { path: '/v2/docs/static/index.html' }, 302],
      [
        'GET /v2/docs/static/swagger-initializer.js',
        { path: '/v2/docs/static/swagger-initializer.js' },
        200,
      ],
      ['GET /v2/docs/static/{file}', { path: '/v2/docs/static/swagger-ui.css' }, 200],
      ['GET /v2/docs/static/{file}', { path: '/v2/docs/static/no-such-file.css' }, 404],
      ['GET /v2/models/{model_name}/docs', { path: '/v2/models/simple/docs' }, 200],
      ['GET /v2/models/{model_name}/docs', { path: '/v2/models/nope/docs' }, 404],
      ['GET /v2/models/{model_name}/docs', { path: '/v2/models/..%2Fetc/docs' }, 400],
      [
        'GET /v2/models/{model_name}/docs/dataplane.json',
        { path: '/v2/models/simple/docs/dataplane.json' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/docs/dataplane.json',
        { path: '/v2/models/broken/docs/dataplane.json' },
        503,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/docs',
        { path: '/v2/models/versioned/versions/1/docs' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/docs/dataplane.json',
        { path: '/v2/models/versioned/versions/9/docs/dataplane.json' },
        404,
      ],
      ['GET /v2/models/{model_name}/config', { path: '/v2/models/simple/config' }, 200],
      ['GET /v2/models/{model_name}/config', { path: '/v2/models/nope/config' }, 404],
      ['GET /v2/models/{model_name}/config', { path: '/v2/models/broken/config' }, 503],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/config',
        { path: '/v2/models/versioned/versions/1/config' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/config',
        { path: '/v2/models/versioned/versions/9/config' },
        404,
      ],
      ['GET /v2/models/stats', { path: '/v2/models/stats' }, 200],
      ['GET /v2/models/{model_name}/stats', { path: '/v2/models/simple/stats' }, 200],
      ['GET /v2/models/{model_name}/stats', { path: '/v2/models/nope/stats' }, 404],
      ['GET /v2/models/{model_name}/stats', { path: '/v2/models/broken/stats' }, 503],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/stats',
        { path: '/v2/models/versioned/versions/2/stats' },
        200,
      ],
      [
        'GET /v2/models/{model_name}/versions/{model_version}/stats',
        { path: '/v2/models/versioned/versions/9/stats' },
        404,
      ],
      ['POST /v2/repository/index', { method: 'POST', path: '/v2/repository/index' }, 200],
      [
        'POST /v2/repository/index',
        { method: 'POST', path: '/v2/repository/index', headers: json, body: '{"ready": "yes"}' },
        400,
      ],
      [
        'POST /v2/repository/index',
        {
          method: 'POST',
          path: '/v2/repository/index',
          headers: { 'content-type': 'image/png' },
          body: 'x',
        },
        415,
      ],
      [
        'POST /v2/repository/models/{model_name}/load',
        { method: 'POST', path: '/v2/repository/models/simple/load' },
        200,
      ],
      [
        'POST /v2/repository/models/{model_name}/load',
        { method: 'POST', path: '/v2/repository/models/nope/load' },
        404,
      ],
      [
        'POST /v2/repository/models/{model_name}/load',
        { method: 'POST', path: '/v2/repository/models/..%2Fetc/load' },
        400,
      ],
      [
        'POST /v2/repository/models/{model_name}/load',
        { method: 'POST', path: '/v2/repository/models/broken/load' },
        422,
      ],
      [
        'POST /v2/repository/models/{model_name}/load',
        {
          method: 'POST',
          path: '/v2/repository/models/simple/load',
          headers: json,
          body: '{"parameters": {"config": "{\\"sequence_batching\\": {}}"}}',
        },
        400,
      ],
      [
        'POST /v2/repository/models/{model_name}/unload',
        { method: 'POST', path: '/v2/repository/models/nope/unload' },
        404,
      ],
      [
        'POST /v2/repository/models/{model_name}/unload',
        { method: 'POST', path: '/v2/repository/models/%2Fetc/unload' },
        400,
      ],
      [
        'POST /v2/repository/models/{model_name}/unload',
        { method: 'POST', path: '/v2/repository/models/simple/unload' },
        200,
      ],
    ];

    void it('every operation is exercised by a case below', () => {
      const exercised = new Set(cases.map(([operation]) => operation));
      assert.deepEqual(
        operations(doc).filter((o) => !exercised.has(o)),
        [],
      );
    });

    for (const [operation, request, expected] of cases) {
      const method = request.method ?? 'GET';
      void it(`${method} ${request.path.slice(0, 60)} → ${expected}, listed for ${operation}`, async () => {
        const response = await fetch(`${server.httpUrl}${request.path}`, {
          method,
          redirect: 'manual',
          ...(request.headers ? { headers: request.headers } : {}),
          ...(request.body === undefined ? {} : { body: request.body }),
        });
        const text = await response.text();
        assert.equal(response.status, expected, text.slice(0, 300));
        const [verb = '', path = ''] = operation.split(' ');
        const listed = Object.keys(doc.paths[path]?.[verb.toLowerCase()]?.responses ?? {});
        assert.ok(listed.includes(String(expected)), `${operation} lists ${listed.join(', ')}`);
        if (expected >= 400) {
          assert.deepEqual(Object.keys(JSON.parse(text) as object), ['error'], text.slice(0, 300));
        }
      });
    }
  });
});
