// MLServer runtimes in Tessera's Python worker, on the real server with the mlserver 1.7.1
// virtualenv (TESSERA_MLSERVER_PYTHON): a custom MLModel subclass in the model folder answering
// REST and gRPC with the values it computes with MLServer's own NumpyCodec, the chosen path in the
// model metadata, a worker killed with SIGKILL coming back with its model, and the load errors
// (a class that does not import, a Python without mlserver, no Python configured) each a clean
// reason in the index while the other models keep serving.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { assertCleanMessage } from '../../support/error-checks.js';
import type { GrpcTestClient } from '../../support/grpc-client.js';
import { startPythonServer, type PythonServer } from '../../support/mlserver-peer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson, restIndex, waitFor } from './lifecycle-helpers.js';

const MODEL_PY = `
import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class Doubler(MLModel):
    async def load(self):
        self.factor = float(self.settings.parameters.extra.get("factor", 2))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        y = (x * self.factor).astype(np.float32)
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[NumpyCodec.encode_output("doubled", y)],
        )
`;

// MLServer answers an MLServerError with its status_code (400 for InferenceError) and anything
// else with 500 (mlserver/rest/app.py); a runtime's refusals must keep that distinction here.
const REFUSER_PY = `
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError


class Refuser(MLModel):
    async def predict(self, payload):
        x = NumpyCodec.decode_input(payload.inputs[0])
        if (x < 0).any():
            raise InferenceError("x must not be negative")
        raise RuntimeError("the model broke")
`;

// MLServer's custom REST handlers on a model of one's own (docs/python-runtimes.md): FastAPI
// resolves the path parameter, the query and headers through a Request, a handler answers with a
// Response of its own, an InferenceError is MLServer's 400, an exception FastAPI's 500, and a
// handler on one of the server's own paths is never called (the server's routes come first).
const GREETER_PY = `
from fastapi import Request
from fastapi.responses import Response
from mlserver import MLModel
from mlserver.errors import InferenceError
from mlserver.handlers import custom_handler


class Greeter(MLModel):
    @custom_handler(rest_path="/greeter/hello/{who}", rest_method="GET")
    async def hello(self, who: str, request: Request) -> dict:
        return {
            "hello": who,
            "model": self.name,
            "x": request.query_params.get("x"),
            "agent": request.headers.get("x-agent"),
        }

    @custom_handler(rest_path="/greeter/echo")
    async def echo(self, request: Request):
        body = await request.body()
        if not body:
            raise InferenceError("send a body")
        return Response(
            content=body[::-1],
            media_type="application/octet-stream",
            headers={"x-length": str(len(body))},
        )

    @custom_handler(rest_path="/greeter/crash", rest_method="GET")
    async def crash(self):
        raise RuntimeError("boom")

    @custom_handler(rest_path="/v2/health/live", rest_method="GET")
    async def shadowed(self):
        return {"shadowed": True}
`;

async function model(
  root: string,
  name: string,
  settings: object,
  files: Record<string, string> = {},
): Promise<void> {
  await mkdir(join(root, name), { recursive: true });
  await writeFile(join(root, name, 'model-settings.json'), JSON.stringify({ name, ...settings }));
  for (const [file, text] of Object.entries(files)) await writeFile(join(root, name, file), text);
}

describe('python runtimes (Python worker, mlserver 1.7.1)', () => {
  let root: string;
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let running: PythonServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-'));
    const custom = { implementation: 'models.Doubler', parameters: { extra: { factor: 3 } } };
    await model(root, 'doubler', custom, { 'models.py': MODEL_PY });
    await model(root, 'no-import', { implementation: 'nosuchpackage.Model' });
    await model(root, 'refuser', { implementation: 'models.Refuser' }, { 'models.py': REFUSER_PY });
    await model(root, 'greeter', { implementation: 'models.Greeter' }, { 'models.py': GREETER_PY });
    // The main test virtualenv has numpy but no mlserver.
    const noMlserver = dirname(dirname(process.env['TESSERA_PYTHON'] ?? '/nonexistent/bin/python'));
    await model(
      root,
      'no-mlserver',
      {
        ...custom,
        parameters: { environment_path: noMlserver },
      },
      { 'models.py': MODEL_PY },
    );
    running = await startPythonServer(root);
    ({ server, grpc } = running);
  });

  after(async () => {
    if (running !== undefined) await running.stop();
    else await rm(root, { recursive: true, force: true });
  });

  it('serves a custom MLModel over REST and gRPC with its own values', async () => {
    const rest = await postJson(`${server.httpUrl}/v2/models/doubler/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2.5, -3, 4] }],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const out = (
      rest.body as {
        outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
      }
    ).outputs[0];
    assert.deepEqual(out, {
      ...out,
      name: 'doubled',
      datatype: 'FP32',
      shape: [2, 2],
      data: [3, 7.5, -9, 12],
    });

    const reply = await grpc.call<{
      outputs: { name: string; shape: string[] }[];
      raw_output_contents: Buffer[];
    }>('ModelInfer', {
      model_name: 'doubler',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [3], contents: { fp32_contents: [1, 2, 3] } }],
    });
    assert.equal(reply.outputs[0]?.name, 'doubled');
    const raw = reply.raw_output_contents[0]!;
    assert.deepEqual(
      Array.from(
        new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
      ),
      [3, 6, 9],
    );
  });

  it("answers a runtime's InferenceError as invalid input and any other failure as a 500", async () => {
    const infer = (value: number) =>
      postJson(`${server.httpUrl}/v2/models/refuser/infer`, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [value] }],
      });
    const refused = await infer(-1);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /InferenceError: x must not be negative/);
    assertCleanMessage((refused.body as { error: string }).error, ['x must not be negative']);
    const broken = await infer(1);
    assert.equal(broken.status, 500, JSON.stringify(broken.body));
    assert.match(JSON.stringify(broken.body), /RuntimeError: the model broke/);
    await assert.rejects(
      grpc.call('ModelInfer', {
        model_name: 'refuser',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [-2] } }],
      }),
      (error: { code?: number; details?: string }) =>
        error.code === status.INVALID_ARGUMENT &&
        /x must not be negative/.test(error.details ?? ''),
    );
  });

  it("serves a model's custom REST handlers as MLServer mounts them", async () => {
    const hello = await fetch(`${server.httpUrl}/greeter/hello/w%C3%B6rld?x=1`, {
      headers: { 'x-agent': 'tests' },
    });
    assert.equal(hello.status, 200);
    assert.match(hello.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await hello.json(), {
      hello: 'wörld',
      model: 'greeter',
      x: '1',
      agent: 'tests',
    });
    const bytes = Buffer.from([0, 1, 2, 255]);
    const echo = await fetch(`${server.httpUrl}/greeter/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(echo.status, 200);
    assert.equal(echo.headers.get('x-length'), '4');
    assert.deepEqual(Buffer.from(await echo.arrayBuffer()), Buffer.from([255, 2, 1, 0]));
    const empty = await fetch(`${server.httpUrl}/greeter/echo`, { method: 'POST' });
    assert.equal(empty.status, 400);
    assert.deepEqual(await empty.json(), { error: 'send a body' });
    const crash = await fetch(`${server.httpUrl}/greeter/crash`);
    assert.equal(crash.status, 500);
    assert.doesNotMatch(await crash.text(), /Traceback|boom|site-packages/);
    const live = await fetch(`${server.httpUrl}/v2/health/live`);
    assert.deepEqual(await live.json(), { live: true });
    const wrongMethod = await fetch(`${server.httpUrl}/greeter/echo`);
    assert.equal(wrongMethod.status, 404);
    const mounted = server.logs.find(
      (l) => (l as { msg?: string }).msg === 'custom REST handlers mounted',
    ) as { model?: string; routes?: string[] } | undefined;
    assert.equal(mounted?.model, 'greeter');
    assert.deepEqual(mounted?.routes?.toSorted(), [
      'GET /greeter/crash',
      'GET /greeter/hello/{who}',
      'GET /v2/health/live',
      'POST /greeter/echo',
    ]);
  });

  it('says in the model metadata that the Python worker serves it', async () => {
    const meta = (await fetch(`${server.httpUrl}/v2/models/doubler`).then((r) => r.json())) as {
      parameters?: Record<string, unknown>;
    };
    assert.equal(meta.parameters?.['runtime_path'], 'python');
    assert.equal(meta.parameters?.['python_class'], 'models.Doubler');
    assert.equal(meta.parameters?.['mlserver_version'], '1.7.1');
  });

  it('gives each load error a clean reason and keeps serving the rest', async () => {
    const index = await restIndex(server.httpUrl);
    const reason = (name: string): string => index.find((e) => e.name === name)?.reason ?? '';
    assert.equal(index.find((e) => e.name === 'doubler')?.state, 'READY');
    assertCleanMessage(reason('no-import'), [
      "implementation 'nosuchpackage.Model' cannot be imported",
      'nosuchpackage',
    ]);
    assertCleanMessage(reason('no-mlserver'), ['cannot import mlserver', 'install mlserver']);
  });

  it('restarts a worker killed with SIGKILL and serves the model again', async () => {
    const started = server.logs.filter(
      (l) => (l as { msg?: string }).msg === 'Python worker started',
    ) as { pid: number }[];
    const pid = started.at(-1)?.pid;
    assert.ok(typeof pid === 'number', 'the server logged the worker pid');
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () =>
        server.logs.some(
          (l) => (l as { msg?: string }).msg === 'Python worker restarted; models loaded again',
        ),
      'the worker restarted',
      30_000,
    );
    const rest = await postJson(`${server.httpUrl}/v2/models/doubler/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [5] }],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    assert.deepEqual((rest.body as { outputs: { data: number[] }[] }).outputs[0]?.data, [15]);
    const hello = await fetch(`${server.httpUrl}/greeter/hello/again`);
    assert.equal(hello.status, 200, 'the custom handlers are back with the model');
    assert.equal(((await hello.json()) as { hello: string }).hello, 'again');
  });
});

describe('python runtimes without a configured Python', () => {
  let root: string;
  let server: ServerProcess;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-no-python-'));
    await model(root, 'doubler', { implementation: 'models.Doubler' }, { 'models.py': MODEL_PY });
    await model(root, 'bad-choice', { implementation: 'onnx', parameters: { serve_with: 'ruby' } });
    server = await startServer({ folder: root });
  });

  after(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('says how to configure a Python, and names an unknown serve_with', async () => {
    const index = await restIndex(server.httpUrl);
    const entry = index.find((e) => e.name === 'doubler');
    assert.equal(entry?.state, 'UNAVAILABLE');
    assertCleanMessage(entry.reason, [
      "'models.Doubler' is a Python class and no Python is configured",
      'python_executable',
      'TESSERA_PYTHON_EXECUTABLE',
    ]);
    const choice = index.find((e) => e.name === 'bad-choice');
    assertCleanMessage(choice?.reason ?? '', ["parameters.serve_with: unknown runtime 'ruby'"]);
  });
});
