// MLServer's `predict_stream` through the Python worker: a custom MLModel that streams one token
// per word answers REST `infer_stream` with one server-sent event per token, and gRPC
// `ModelStreamInfer` through tritonclient's stream API with decoupled responses; a client that
// goes away mid-stream cancels the stream in the worker, whose generator's `finally` runs
// (observed through the file it writes); a model without its own predict_stream answers a stream
// with its one predict response.
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPythonServer, type PythonServer } from '../../support/mlserver-peer.js';
import { runStreamInfer } from '../../support/python-peer.js';
import type { ServerProcess } from '../../support/server-process.js';
import { allEvents, post, sseEvents } from '../../support/sse.js';
import { waitFor } from './lifecycle-helpers.js';

const TOKENS_PY = `
import asyncio
import os

from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import InferenceResponse


def token(name, text):
    return InferenceResponse(model_name=name, outputs=[StringCodec.encode_output("token", [text])])


class Tokens(MLModel):
    async def predict(self, payload):
        return token(self.name, "whole")

    async def predict_stream(self, payloads):
        async for payload in payloads:
            text = StringCodec.decode_input(payload.inputs[0])[0]
            folder = StringCodec.decode_input(payload.inputs[1])[0] if len(payload.inputs) > 1 else None
            try:
                if text == "forever":
                    n = 0
                    while True:
                        yield token(self.name, str(n))
                        n += 1
                        await asyncio.sleep(0.02)
                for word in text.split():
                    yield token(self.name, word)
            finally:
                if folder:
                    open(os.path.join(folder, "closed"), "w").close()
`;

const ONE_SHOT_PY = `
from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import InferenceResponse


class OneShot(MLModel):
    async def predict(self, payload):
        return InferenceResponse(
            model_name=self.name, outputs=[StringCodec.encode_output("token", ["only"])]
        )
`;

const text = (value: string, folder?: string) => ({
  inputs: [
    { name: 'text', datatype: 'BYTES', shape: [1], data: [value] },
    ...(folder === undefined
      ? []
      : [{ name: 'folder', datatype: 'BYTES', shape: [1], data: [folder] }]),
  ],
});

const tokenOf = (event: Record<string, unknown>): unknown =>
  (event['outputs'] as { data: unknown[] }[] | undefined)?.[0]?.data[0];

describe("MLServer's predict_stream through the Python worker", () => {
  let root: string;
  let server: ServerProcess;
  let running: PythonServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-stream-'));
    for (const [name, cls, source] of [
      ['tokens', 'Tokens', TOKENS_PY],
      ['one-shot', 'OneShot', ONE_SHOT_PY],
    ] as const) {
      await mkdir(join(root, name));
      await writeFile(join(root, name, 'models.py'), source);
      await writeFile(
        join(root, name, 'model-settings.json'),
        JSON.stringify({ name, implementation: `models.${cls}` }),
      );
    }
    running = await startPythonServer(root);
    ({ server } = running);
  });

  after(async () => {
    if (running !== undefined) await running.stop();
    else await rm(root, { recursive: true, force: true });
  });

  it('answers infer_stream with one event per streamed response', async () => {
    const res = await post(server, '/v2/models/tokens/infer_stream', text('the quick brown fox'));
    assert.equal(res.status, 200);
    const events = await allEvents(res);
    assert.deepEqual(events.map(tokenOf), ['the', 'quick', 'brown', 'fox']);
  });

  it('answers ModelStreamInfer through tritonclient with decoupled responses', async () => {
    const responses = await runStreamInfer({
      grpc: server.grpcAddress,
      requests: [
        { model: 'tokens', id: 's1', input: 'text', text: 'a b c', output: 'token', final: true },
      ],
    });
    assert.ok(
      responses.every((r) => r.error === undefined),
      JSON.stringify(responses),
    );
    assert.deepEqual(
      responses.flatMap((r) => r.values ?? []),
      ['a', 'b', 'c'],
    );
    assert.equal(responses.at(-1)?.final, true, "Triton's empty final response ends it");
  });

  it('cancels the stream in the worker when the client goes away', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'tessera-python-stream-cancel-'));
    try {
      const controller = new AbortController();
      const res = await post(
        server,
        '/v2/models/tokens/infer_stream',
        text('forever', folder),
        controller.signal,
      );
      let seen = 0;
      for await (const event of sseEvents(res)) {
        assert.equal(tokenOf(event), String(seen));
        if (++seen === 3) break;
      }
      controller.abort();
      await waitFor(
        () =>
          access(join(folder, 'closed')).then(
            () => true,
            () => false,
          ),
        "the model's generator to be closed",
        30_000,
      );
      const after = await post(server, '/v2/models/tokens/infer_stream', text('still here'));
      assert.deepEqual((await allEvents(after)).map(tokenOf), ['still', 'here']);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('streams one response from a model without its own predict_stream', async () => {
    const res = await post(server, '/v2/models/one-shot/infer_stream', text('x'));
    assert.equal(res.status, 200);
    assert.deepEqual((await allEvents(res)).map(tokenOf), ['only']);
  });
});
