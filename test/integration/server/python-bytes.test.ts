// BYTES tensors through the Python worker (4-byte length-prefixed elements on the wire, as raw
// BYTES are in the Open Inference Protocol): a custom MLModel decodes its input with MLServer's
// own StringCodec and answers upper-cased strings with it, over REST (UTF-8 text, non-ASCII
// included) and gRPC (`bytes_contents` in, raw BYTES out), with the request's content type
// reaching MLServer's codec as it arrived. Content types are MLServer's to apply: a base64 input
// reaches Base64Codec still encoded, a content type only a custom codec knows reaches the model,
// and the outputs go out as MLServer's codecs wrote them.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GrpcTestClient } from '../../support/grpc-client.js';
import { startPythonServer, type PythonServer } from '../../support/mlserver-peer.js';
import type { ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

const SHOUT_PY = `
from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import InferenceResponse


class Shout(MLModel):
    async def predict(self, payload):
        words = StringCodec.decode_input(payload.inputs[0])
        content_type = (payload.inputs[0].parameters.content_type
                        if payload.inputs[0].parameters else None)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                StringCodec.encode_output("shouted", [w.upper() + "!" for w in words]),
                StringCodec.encode_output("content_type", [str(content_type)]),
            ],
        )
`;

const CODECS_PY = `
from mlserver import MLModel
from mlserver.codecs import Base64Codec, StringCodec
from mlserver.types import InferenceResponse


class Codecs(MLModel):
    async def predict(self, payload):
        raw = Base64Codec.decode_input(payload.inputs[0])
        custom = payload.inputs[1].parameters.content_type
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                StringCodec.encode_output("decoded", [b.decode() for b in raw]),
                StringCodec.encode_output("custom", [custom]),
                Base64Codec.encode_output("again", raw),
            ],
        )
`;

/** Splits raw BYTES contents (4-byte little-endian length, then the bytes) into strings. */
function splitRaw(raw: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < raw.byteLength;) {
    const size = raw.readUInt32LE(offset);
    out.push(raw.toString('utf8', offset + 4, offset + 4 + size));
    offset += 4 + size;
  }
  return out;
}

describe('BYTES through the Python worker (MLServer StringCodec)', () => {
  let root: string;
  let server: ServerProcess;
  let grpc: GrpcTestClient;
  let running: PythonServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-bytes-'));
    await mkdir(join(root, 'shout'));
    await writeFile(join(root, 'shout', 'models.py'), SHOUT_PY);
    await writeFile(
      join(root, 'shout', 'model-settings.json'),
      JSON.stringify({ name: 'shout', implementation: 'models.Shout' }),
    );
    await mkdir(join(root, 'codecs'));
    await writeFile(join(root, 'codecs', 'models.py'), CODECS_PY);
    await writeFile(
      join(root, 'codecs', 'model-settings.json'),
      JSON.stringify({ name: 'codecs', implementation: 'models.Codecs' }),
    );
    running = await startPythonServer(root);
    ({ server, grpc } = running);
  });

  after(async () => {
    if (running !== undefined) await running.stop();
    else await rm(root, { recursive: true, force: true });
  });

  it('answers REST with the strings the model computed', async () => {
    const rest = await postJson(`${server.httpUrl}/v2/models/shout/infer`, {
      inputs: [
        {
          name: 'words',
          datatype: 'BYTES',
          shape: [3],
          data: ['hello', 'wörld', ''],
          parameters: { content_type: 'str' },
        },
      ],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const outputs = (
      rest.body as {
        outputs: { name: string; datatype: string; shape: number[]; data: string[] }[];
      }
    ).outputs;
    const shouted = outputs.find((o) => o.name === 'shouted');
    assert.equal(shouted?.datatype, 'BYTES');
    assert.deepEqual(shouted?.shape, [3, 1]);
    assert.deepEqual(shouted?.data, ['HELLO!', 'WÖRLD!', '!']);
    assert.deepEqual(outputs.find((o) => o.name === 'content_type')?.data, ['str']);
  });

  it('answers gRPC bytes_contents with raw BYTES', async () => {
    const reply = await grpc.call<{
      outputs: { name: string; datatype: string }[];
      raw_output_contents: Buffer[];
    }>('ModelInfer', {
      model_name: 'shout',
      inputs: [
        {
          name: 'words',
          datatype: 'BYTES',
          shape: [2],
          contents: { bytes_contents: [Buffer.from('a'), Buffer.from('zürich')] },
        },
      ],
    });
    const index = reply.outputs.findIndex((o) => o.name === 'shouted');
    assert.equal(reply.outputs[index]?.datatype, 'BYTES');
    assert.deepEqual(splitRaw(reply.raw_output_contents[index]!), ['A!', 'ZÜRICH!']);
  });

  it("leaves content types to MLServer's codecs, custom ones included", async () => {
    const rest = await postJson(`${server.httpUrl}/v2/models/codecs/infer`, {
      inputs: [
        {
          name: 'b64',
          datatype: 'BYTES',
          shape: [2],
          data: ['aGVsbG8=', 'd8O2cmxk'],
          parameters: { content_type: 'base64' },
        },
        {
          name: 'other',
          datatype: 'BYTES',
          shape: [1],
          data: ['x'],
          parameters: { content_type: 'hg_jsonlist' },
        },
      ],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const outputs = (
      rest.body as {
        outputs: { name: string; data: string[]; parameters?: Record<string, unknown> }[];
      }
    ).outputs;
    const byName = new Map(outputs.map((o) => [o.name, o]));
    assert.deepEqual(byName.get('decoded')?.data, ['hello', 'wörld']);
    assert.deepEqual(byName.get('custom')?.data, ['hg_jsonlist']);
    assert.deepEqual(byName.get('again')?.data, ['aGVsbG8=', 'd8O2cmxk']);
    assert.equal(byName.get('again')?.parameters?.['content_type'], 'base64');
  });
});
