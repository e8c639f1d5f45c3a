// A load that arrives while the Python worker is restarting joins the restart rather than racing
// it: every model is loaded into the new process exactly once, and the load succeeds. A model
// whose reload is held open (a gate file) keeps the restart under way while the test asks for a
// second model; before, that load raced the restart (refused with "the Python worker is
// restarting", or, sent to the new process, loaded there and again by the restart's reload of
// every held model). Waits on observable events only (the models' own load records, the index).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPythonServer, type PythonServer } from '../../support/mlserver-peer.js';
import { postJson, restIndex, waitFor } from './lifecycle-helpers.js';

const MODELS_PY = `
import asyncio, os
import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceResponse


class Counted(MLModel):
    """Records each load (name and pid); with the gate armed, model a's load waits for release."""

    async def load(self):
        files = self.settings.parameters.extra["files"]
        with open(os.path.join(files, "loads"), "a") as f:
            f.write(f"{self.name} {os.getpid()}\\n")
        if self.name == "a" and os.path.exists(os.path.join(files, "gate-armed")):
            while not os.path.exists(os.path.join(files, "release")):
                await asyncio.sleep(0.01)
        return True

    async def predict(self, payload):
        pid = np.array([os.getpid()], dtype=np.int64)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("pid", pid)])
`;

const X = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] };

describe('a load while the Python worker restarts (mlserver 1.7.1)', () => {
  let root: string;
  let files: string;
  let running: PythonServer;
  const messages = (msg: string): unknown[] =>
    (running.server.logs as { msg?: string }[]).filter((l) => l.msg === msg);
  const loads = async (): Promise<string[]> =>
    existsSync(join(files, 'loads'))
      ? (await readFile(join(files, 'loads'), 'utf8')).split('\n').filter((l) => l !== '')
      : [];
  const pidOf = async (model: string): Promise<number> => {
    const reply = await postJson(`${running.server.httpUrl}/v2/models/${model}/infer`, X);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return (reply.body as { outputs: { data: number[] }[] }).outputs[0]?.data[0] ?? -1;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-restart-load-'));
    files = join(root, 'files');
    await mkdir(files);
    for (const name of ['a', 'b']) {
      await mkdir(join(root, name));
      await writeFile(join(root, name, 'models.py'), MODELS_PY);
      await writeFile(
        join(root, name, 'model-settings.json'),
        JSON.stringify({
          name,
          implementation: 'models.Counted',
          parameters: { extra: { files } },
        }),
      );
    }
    // Only a at startup; b is loaded through the repository API during the restart.
    running = await startPythonServer(root, { TESSERA_LOAD_MODELS_AT_STARTUP: 'false' });
    const loaded = await postJson(`${running.server.httpUrl}/v2/repository/models/a/load`);
    assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
  });

  after(() => running.stop());

  it('loads the new model once, with the held one, into the restarted process', async () => {
    const oldPid = await pidOf('a');
    assert.deepEqual(await loads(), [`a ${String(oldPid)}`]);
    await writeFile(join(files, 'gate-armed'), '');
    const exits = messages('the Python worker exited (SIGKILL); restarting it').length;
    process.kill(oldPid, 'SIGKILL');
    // The restart is under way and held open: a's reload has begun in the new process.
    await waitFor(
      async () => (await loads()).length === 2,
      "a's reload in the new process",
      30_000,
    );
    assert.ok(messages('the Python worker exited (SIGKILL); restarting it').length > exits);
    const newPid = Number((await loads())[1]?.split(' ')[1]);
    assert.notEqual(newPid, oldPid);
    const loadingB = postJson(`${running.server.httpUrl}/v2/repository/models/b/load`);
    await waitFor(
      async () =>
        (await restIndex(running.server.httpUrl)).some(
          // LOADING while it waits for the restart (READY had it raced ahead of the restart).
          (m) => m.name === 'b' && (m.state === 'LOADING' || m.state === 'READY'),
        ),
      'b loading',
      10_000,
    );
    await writeFile(join(files, 'release'), '');
    const loadedB = await loadingB;
    assert.equal(loadedB.status, 200, JSON.stringify(loadedB.body));
    // Each model loaded once into the new process: a by the restart, b joined it.
    const records = await loads();
    assert.deepEqual(
      records.slice(1).sort(),
      [`a ${String(newPid)}`, `b ${String(newPid)}`].sort(),
    );
    assert.equal(await pidOf('a'), newPid);
    assert.equal(await pidOf('b'), newPid);
    assert.equal(messages('Python worker restarted; models loaded again').length, 1);
  });
});
