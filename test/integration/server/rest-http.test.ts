// Plain HTTP requests in the shapes MLServer's documentation uses (requests/curl with JSON),
// plus the HTTP behaviour MLServer users rely on: unknown keys ignored, request ids, gzip,
// CORS, root_path, and the OpenAPI/Swagger pages.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('REST API as MLServer documents it', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer({
      env: {
        TESSERA_ROOT_PATH: '/serving',
        TESSERA_CORS_SETTINGS: JSON.stringify({
          allow_origins: ['https://app.example'],
          allow_methods: ['GET', 'POST'],
          allow_headers: ['content-type'],
        }),
      },
    });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  it('answers health with 200 and a JSON body', async () => {
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { live: true });
    const ready = await fetch(`${server.httpUrl}/v2/health/ready`);
    assert.deepEqual(await ready.json(), { ready: true });
    const modelReady = await fetch(`${server.httpUrl}/v2/models/iris/ready`);
    assert.deepEqual(await modelReady.json(), { name: 'iris', ready: true });
  });

  it('serves server metadata with an extensions array', async () => {
    const body = (await (await fetch(`${server.httpUrl}/v2`)).json()) as {
      name: string;
      version: string;
      extensions: string[];
    };
    assert.equal(body.name, 'tessera');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.ok(body.extensions.includes('model_repository'));
    assert.ok(body.extensions.includes('binary_tensor_data'));
  });

  it('serves model metadata with and without a version', async () => {
    for (const path of ['/v2/models/iris', '/v2/models/iris/versions/1']) {
      const body = (await (await fetch(server.httpUrl + path)).json()) as Record<string, unknown>;
      assert.equal(body['name'], 'iris');
      assert.deepEqual(body['versions'], ['1']);
      assert.deepEqual(body['inputs'], [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    }
  });

  it('infers with nested data, ignores unknown keys such as model_name, and echoes the id', async () => {
    const res = await postJson(`${server.httpUrl}/v2/models/iris/versions/1/infer`, {
      id: 'req-42',
      model_name: 'iris',
      inputs: [
        { name: 'input', shape: [2, 4], datatype: 'FP32', data: IRIS_ROWS, extra_field: true },
      ],
      outputs: [{ name: 'label' }],
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      id: string;
      model_name: string;
      model_version: string;
      outputs: { name: string; shape: number[]; data: number[] }[];
    };
    assert.equal(body.id, 'req-42');
    assert.equal(body.model_name, 'iris');
    assert.equal(body.model_version, '1');
    assert.deepEqual(
      body.outputs.map((o) => o.name),
      ['label'],
    );
    assert.deepEqual(body.outputs[0]?.shape, [2]);
    assert.deepEqual(body.outputs[0]?.data, [0, 2], 'setosa and virginica');
  });

  it('uses the x-request-id header as the id when the body has none, and returns it as a header', async () => {
    const res = await postJson(
      `${server.httpUrl}/v2/models/simple/infer`,
      {
        inputs: [0, 1].map((i) => ({
          name: `INPUT${i}`,
          shape: [1, 16],
          datatype: 'INT32',
          data: new Array(16).fill(i + 1),
        })),
      },
      { 'x-request-id': 'trace-abc' },
    );
    assert.equal(res.headers.get('x-request-id'), 'trace-abc');
    const body = (await res.json()) as { id: string; outputs: { name: string; data: number[] }[] };
    assert.equal(body.id, 'trace-abc');
    assert.deepEqual(body.outputs.find((o) => o.name === 'OUTPUT0')?.data, new Array(16).fill(3));
    assert.deepEqual(body.outputs.find((o) => o.name === 'OUTPUT1')?.data, new Array(16).fill(-1));
  });

  it('accepts gzip request bodies and compresses large responses', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => IRIS_ROWS[i % 2]!);
    const body = gzipSync(
      JSON.stringify({
        inputs: [{ name: 'input', shape: [200, 4], datatype: 'FP32', data: rows }],
      }),
    );
    const res = await fetch(`${server.httpUrl}/v2/models/iris/infer`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'accept-encoding': 'gzip',
      },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    // fetch inflates the body itself; the header shows it travelled compressed.
    const json = (await res.json()) as { outputs: { shape: number[] }[] };
    assert.deepEqual(json.outputs[0]?.shape, [200]);
  });

  it('answers the same routes under root_path', async () => {
    const res = await fetch(`${server.httpUrl}/serving/v2/health/live`);
    assert.equal(res.status, 200);
    const meta = await fetch(`${server.httpUrl}/serving/v2/models/simple`);
    assert.equal(meta.status, 200);
  });

  it('applies the CORS settings', async () => {
    const preflight = await fetch(`${server.httpUrl}/v2/models/iris/infer`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    const other = await fetch(`${server.httpUrl}/v2/health/live`, {
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('serves OpenAPI documents and Swagger UI pages', async () => {
    const spec = (await (await fetch(`${server.httpUrl}/v2/docs/dataplane.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.match(spec.openapi, /^3\./);
    assert.ok('/v2/models/{model_name}/infer' in spec.paths);
    const page = await fetch(`${server.httpUrl}/v2/docs`, { redirect: 'follow' });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger/i);
    const modelSpec = (await (
      await fetch(`${server.httpUrl}/v2/models/iris/docs/dataplane.json`)
    ).json()) as {
      paths: Record<
        string,
        {
          post?: {
            requestBody: { content: Record<string, { example: { inputs: { name: string }[] } }> };
          };
        }
      >;
    };
    const infer = modelSpec.paths['/v2/models/iris/infer'];
    assert.equal(
      infer?.post?.requestBody.content['application/json']?.example.inputs[0]?.name,
      'input',
    );
    const modelPage = await fetch(`${server.httpUrl}/v2/models/iris/docs`);
    assert.equal(modelPage.status, 200);
    assert.match(await modelPage.text(), /v2\/models\/iris\/docs\/dataplane\.json/);
    const unknown = await fetch(`${server.httpUrl}/v2/models/nope/docs`);
    assert.equal(unknown.status, 404);
  });

  it('lists loaded models the way the KServe SDK expects', async () => {
    const body = (await (await fetch(`${server.httpUrl}/v2/models`)).json()) as {
      models: string[];
    };
    assert.deepEqual(body.models.sort(), ['iris', 'simple']);
  });
});
