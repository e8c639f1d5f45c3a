import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerCustomRoute,
  compilePathTemplate,
  findCustomRoute,
} from '../../../server/src/core/custom-handlers.js';
import { LoadedModel } from '../../../server/src/core/model-registry.js';
import type {
  CustomRequest,
  CustomResponse,
  CustomRoute,
  ModelInstance,
} from '../../../server/src/core/model-runtime.js';
import { withDefaults } from '../../../server/src/core/model-settings.js';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';

function model(
  name: string,
  routes: CustomRoute[],
  handle: (request: CustomRequest) => Promise<CustomResponse> = (request) =>
    Promise.resolve(text(`${name} ${request.method} ${request.path}`)),
  unavailable?: () => string | undefined,
): { name: string; model: LoadedModel } {
  const instance: ModelInstance = {
    metadata: { platform: '', inputs: [], outputs: [] },
    infer: () => Promise.resolve({ outputs: [] }),
    unload: () => Promise.resolve(),
    customRoutes: routes,
    handleCustom: handle,
    ...(unavailable ? { unavailable } : {}),
  };
  const settings = withDefaults({
    name,
    implementation: 'tests.Fake',
    uri: `/models/${name}`,
    folder: `/models/${name}`,
    source: `${name}/model-settings.json`,
  });
  return { name, model: new LoadedModel(settings, instance) };
}

function text(body: string): CustomResponse {
  return { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from(body) };
}

function request(method: string, path: string): CustomRequest {
  return { method, path, query: '', headers: [], body: new Uint8Array(0) };
}

const deps = (serving: { name: string; model: LoadedModel }[], timeoutMs = 0) => ({
  serving: () => serving,
  timeoutMs,
  maxResponseBytes: 1000,
});

describe('compilePathTemplate (Starlette path templates)', () => {
  it('matches literal paths exactly, dots and all', () => {
    const re = compilePathTemplate('/invocations.json')!;
    assert.ok(re.test('/invocations.json'));
    assert.ok(!re.test('/invocationsXjson'));
    assert.ok(!re.test('/invocations.json/more'));
  });

  it("matches Starlette's convertors", () => {
    assert.ok(compilePathTemplate('/items/{id}')!.test('/items/abc'));
    assert.ok(!compilePathTemplate('/items/{id}')!.test('/items/a/b'));
    assert.ok(compilePathTemplate('/files/{rest:path}')!.test('/files/a/b/c'));
    assert.ok(compilePathTemplate('/n/{n:int}')!.test('/n/42'));
    assert.ok(!compilePathTemplate('/n/{n:int}')!.test('/n/4x'));
    assert.ok(compilePathTemplate('/f/{x:float}')!.test('/f/1.5'));
    assert.ok(compilePathTemplate('/u/{u:uuid}')!.test('/u/123e4567-e89b-12d3-a456-426614174000'));
  });

  it('refuses an unknown convertor, as Starlette does', () => {
    assert.equal(compilePathTemplate('/x/{y:date}'), undefined);
  });
});

describe('findCustomRoute', () => {
  it('picks the route by method and path, the model loaded first among several', () => {
    const first = model('first', [{ method: 'POST', path: '/invocations' }]);
    const second = model('second', [
      { method: 'POST', path: '/invocations' },
      { method: 'GET', path: '/ping' },
    ]);
    // The serving list is in name order, not load order.
    const serving = [second, first];
    assert.equal(findCustomRoute(serving, 'POST', '/invocations')?.name, 'first');
    assert.equal(findCustomRoute(serving, 'GET', '/ping')?.name, 'second');
    assert.equal(findCustomRoute(serving, 'GET', '/invocations'), undefined);
    assert.equal(findCustomRoute([second], 'POST', '/invocations')?.name, 'second');
  });
});

describe('answerCustomRoute', () => {
  it("answers with the model's response and holds a lease until it settles", async () => {
    let finish: ((r: CustomResponse) => void) | undefined;
    const m = model('m', [{ method: 'GET', path: '/ping' }], () => {
      return new Promise((resolve) => {
        finish = resolve;
      });
    });
    const answer = answerCustomRoute(deps([m]), request('GET', '/ping'), {
      headers: {},
      protocol: 'rest',
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(m.model.inFlight, 1);
    finish!(text('pong'));
    const { route, response } = await answer;
    assert.deepEqual(route, { method: 'GET', path: '/ping' });
    assert.equal(Buffer.from(response.body).toString(), 'pong');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(m.model.inFlight, 0);
  });

  it('matches the percent-decoded path, as Starlette does', async () => {
    const m = model('m', [{ method: 'GET', path: '/items/{name}' }]);
    const { response } = await answerCustomRoute(deps([m]), request('GET', '/items/a%20b'), {
      headers: {},
      protocol: 'rest',
    });
    assert.equal(Buffer.from(response.body).toString(), 'm GET /items/a%20b');
  });

  it('answers 404 for a path no model mounts', async () => {
    await assert.rejects(
      answerCustomRoute(deps([]), request('POST', '/invocations'), {
        headers: {},
        protocol: 'rest',
      }),
      (error: unknown) =>
        error instanceof ServerError &&
        error.code === ErrorCode.ROUTE_NOT_FOUND &&
        error.message === 'no route for POST /invocations',
    );
  });

  it('refuses while the model cannot serve, with the reason', async () => {
    const m = model(
      'm',
      [{ method: 'GET', path: '/ping' }],
      undefined,
      () => 'the Python worker exited (SIGKILL)',
    );
    await assert.rejects(
      answerCustomRoute(deps([m]), request('GET', '/ping'), { headers: {}, protocol: 'rest' }),
      (error: unknown) =>
        error instanceof ServerError &&
        error.code === ErrorCode.MODEL_NOT_READY &&
        /SIGKILL/.test(error.message),
    );
  });

  it('bounds the time and the size of an answer', async () => {
    const slow = model('slow', [{ method: 'GET', path: '/slow' }], () => new Promise(() => {}));
    await assert.rejects(
      answerCustomRoute(deps([slow], 20), request('GET', '/slow'), {
        headers: {},
        protocol: 'rest',
      }),
      (error: unknown) => error instanceof ServerError && error.code === ErrorCode.TIMEOUT,
    );
    const big = model('big', [{ method: 'GET', path: '/big' }], () =>
      Promise.resolve(text('x'.repeat(1001))),
    );
    await assert.rejects(
      answerCustomRoute(deps([big]), request('GET', '/big'), { headers: {}, protocol: 'rest' }),
      (error: unknown) =>
        error instanceof ServerError &&
        error.code === ErrorCode.PAYLOAD_TOO_LARGE &&
        /max_response_bytes/.test(error.message),
    );
  });
});
