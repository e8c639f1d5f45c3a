// Several Python worker processes per environment (MLServer's parallel_workers, here through its
// own MLSERVER_PARALLEL_WORKERS) and custom metrics (mlserver.register / mlserver.log), on the real
// server with the mlserver 1.7.1 virtualenv. A model answering with its process's pid shows both
// processes serving; a process killed mid-request fails that request cleanly while the other keeps
// answering, and comes back with the model (waited for through its log lines, never a sleep). A
// model whose load succeeds in only one process fails and is unloaded from the other. A model's
// custom metric appears on /metrics with MLServer's labels and the values it logged, and names the
// server cannot take are refused in the log while the model keeps serving.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCleanMessage } from '../../support/error-checks.js';
import { startPythonServer, type PythonServer } from '../../support/mlserver-peer.js';
import { postJson, restIndex, waitFor } from './lifecycle-helpers.js';

const MODELS_PY = `
import asyncio, os
import numpy as np
import mlserver
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceResponse


def files(model):
    return model.settings.parameters.extra["files"]


class Pid(MLModel):
    async def load(self):
        return True

    async def predict(self, payload):
        if payload.parameters is not None and getattr(payload.parameters, "hold", False):
            open(os.path.join(files(self), f"entered-{os.getpid()}"), "w").close()
            while True:
                await asyncio.sleep(0.01)
        pid = np.array([os.getpid()], dtype=np.int64)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("pid", pid)])


class Claim(MLModel):
    """Loads in the first process only: the second finds the claim taken and fails."""

    async def load(self):
        try:
            fd = os.open(os.path.join(files(self), "claim"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            raise RuntimeError("the claim is taken by another process")
        os.close(fd)
        return True

    async def unload(self):
        open(os.path.join(files(self), f"unloaded-{os.getpid()}"), "w").close()

    async def predict(self, payload):
        raise RuntimeError("never served")


class Metered(MLModel):
    async def load(self):
        mlserver.register("tessera_test_latency", "Latency the model measured itself")
        return True

    async def predict(self, payload):
        x = NumpyCodec.decode_input(payload.inputs[0])
        # From another thread (asyncio.to_thread keeps the model context, as in MLServer).
        await asyncio.to_thread(mlserver.log, tessera_test_latency=float(x.sum()))
        if payload.parameters is not None and getattr(payload.parameters, "odd", False):
            mlserver.log(**{"bad-name": 1.0})
            mlserver.log(tessera_test_a="not a number")
            mlserver.log(tessera_model_infer_requests_total=1.0)
            mlserver.log(tessera_test_a=1.0, tessera_test_b=2.0, tessera_test_c=3.0)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", x)])
`;

const X = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] };

interface LogLine {
  msg?: string;
  pid?: number;
  process?: number;
  metric?: string;
  why?: string;
}

describe('python worker processes per environment (parallel_workers, mlserver 1.7.1)', () => {
  let root: string;
  let files: string;
  let running: PythonServer;
  const logs = (): LogLine[] => running.server.logs as LogLine[];
  const withMsg = (msg: string): LogLine[] => logs().filter((l) => l.msg === msg);
  const url = (model: string): string => `${running.server.httpUrl}/v2/models/${model}/infer`;

  async function pidOf(body: object = X): Promise<number> {
    const reply = await postJson(url('pid'), body);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const data = (reply.body as { outputs: { data: number[] }[] }).outputs[0]?.data[0];
    assert.equal(typeof data, 'number');
    return data!;
  }

  /** The pids answering `count` sequential requests. */
  async function pidsAnswering(count: number): Promise<Set<number>> {
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) seen.add(await pidOf());
    return seen;
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-parallel-'));
    files = join(root, 'files');
    await mkdir(files);
    for (const [name, implementation] of [
      ['pid', 'models.Pid'],
      ['claim', 'models.Claim'],
      ['metered', 'models.Metered'],
    ] as const) {
      await mkdir(join(root, name));
      await writeFile(join(root, name, 'models.py'), MODELS_PY);
      await writeFile(
        join(root, name, 'model-settings.json'),
        JSON.stringify({ name, implementation, parameters: { extra: { files } } }),
      );
    }
    running = await startPythonServer(root, {
      MLSERVER_PARALLEL_WORKERS: '2',
      TESSERA_PYTHON_MAX_CUSTOM_METRICS: '3',
    });
  });

  after(() => running.stop());

  it('starts two processes for the environment and both serve', async () => {
    const startedPids = (): Set<number | undefined> =>
      new Set(withMsg('Python worker started').map((l) => l.pid));
    // Log lines reach the test through the server's stdout, which may trail its answers.
    await waitFor(() => startedPids().size >= 2, 'two worker processes started');
    const started = startedPids();
    assert.equal(started.size, 2, 'two worker processes started');
    assert.deepEqual(await pidsAnswering(4), started);
  });

  it('fails a model whose load fails in one process, and unloads it from the other', async () => {
    const entry = (await restIndex(running.server.httpUrl)).find((e) => e.name === 'claim');
    assert.equal(entry?.state, 'UNAVAILABLE', JSON.stringify(entry));
    assertCleanMessage(entry.reason ?? '', ['the claim is taken by another process']);
    // The process whose load succeeded unloaded the model again.
    await waitFor(
      async () => (await readdir(files)).some((f) => f.startsWith('unloaded-')),
      'the other process unloaded the model',
    );
  });

  it('keeps serving through a process killed mid-request and restarts it', async () => {
    const before = new Set(withMsg('Python worker started').map((l) => l.pid));
    const held = postJson(url('pid'), { ...X, parameters: { hold: true } });
    let victim: number | undefined;
    await waitFor(async () => {
      const entered = (await readdir(files)).find((f) => f.startsWith('entered-'));
      victim = entered === undefined ? undefined : Number(entered.slice('entered-'.length));
      return victim !== undefined;
    }, 'the held predict started');
    const exits = withMsg('the Python worker exited (SIGKILL); restarting it').length;
    process.kill(victim!, 'SIGKILL');

    // The request in the killed process fails, with a clean message.
    const failed = await held;
    assert.equal(failed.status, 500, JSON.stringify(failed.body));
    assertCleanMessage(JSON.stringify(failed.body), ['the Python worker exited']);
    await waitFor(
      () => withMsg('the Python worker exited (SIGKILL); restarting it').length > exits,
      'the exit was noticed',
    );
    // Meanwhile the other process answers every request, and the model stays ready.
    for (let i = 0; i < 5; i++) assert.notEqual(await pidOf(), victim);
    assert.equal((await fetch(`${running.server.httpUrl}/v2/models/pid/ready`)).status, 200);

    await waitFor(
      () => withMsg('Python worker restarted; models loaded again').length > 0,
      'the killed process came back',
      30_000,
    );
    const now = new Set(withMsg('Python worker started').map((l) => l.pid));
    const fresh = [...now].filter((pid) => !before.has(pid));
    assert.equal(fresh.length, 1, 'one new process');
    const serving = await pidsAnswering(4);
    assert.equal(serving.size, 2, 'both processes serve again');
    assert.ok(serving.has(fresh[0]!), 'the new process serves');
    assert.ok(!serving.has(victim!), 'the killed one does not');
  });

  it('exposes a custom metric with MLServer labels and the logged values', async () => {
    for (const value of [0.25, 4]) {
      const reply = await postJson(url('metered'), {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [value] }],
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    }
    const text = await (await fetch(`${running.server.metricsUrl}/metrics`)).text();
    const labels = '{model_name="metered",model_version=""}';
    assert.match(text, /# HELP tessera_test_latency Latency the model measured itself/);
    assert.match(text, /# TYPE tessera_test_latency histogram/);
    assert.ok(text.includes(`tessera_test_latency_count${labels} 2`), text);
    assert.ok(text.includes(`tessera_test_latency_sum${labels} 4.25`), text);
    // prometheus_client's default buckets: 0.25 falls in le=0.25, 4 in le=5.
    assert.ok(
      text.includes(
        'tessera_test_latency_bucket{le="0.25",model_name="metered",model_version=""} 1',
      ),
      text,
    );
    assert.ok(
      text.includes('tessera_test_latency_bucket{le="5",model_name="metered",model_version=""} 2'),
      text,
    );
  });

  it('refuses bad, colliding and too many custom metric names in the log and keeps serving', async () => {
    const reply = await postJson(url('metered'), { ...X, parameters: { odd: true } });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    await waitFor(
      () => withMsg('custom metric refused; the model keeps serving without it').length >= 3,
      'the refusals were logged',
    );
    const refused = withMsg('custom metric refused; the model keeps serving without it');
    assert.ok(
      refused.some(
        (l) =>
          l.metric === 'tessera_model_infer_requests_total' &&
          /server already has/.test(l.why ?? ''),
      ),
      JSON.stringify(refused),
    );
    // tessera_test_latency is one of the 3; a and b fill the bound, c is refused.
    assert.ok(
      refused.some((l) => l.metric === 'tessera_test_c' && /limit/.test(l.why ?? '')),
      JSON.stringify(refused),
    );
    assert.ok(
      refused.some((l) => l.metric === 'bad-name' && /only letters, digits/.test(l.why ?? '')),
      JSON.stringify(refused),
    );
    // A value that is not a number is refused inside the worker, on its stderr (the server log).
    await waitFor(
      () => logs().some((l) => /mlserver\.log\(tessera_test_a=\.\.\.\) refused/.test(l.msg ?? '')),
      'the worker logged the refused value',
    );
    const text = await (await fetch(`${running.server.metricsUrl}/metrics`)).text();
    assert.ok(text.includes('tessera_test_b_count{model_name="metered",model_version=""} 1'));
    assert.ok(!text.includes('tessera_test_c'), 'the metric over the bound is not exposed');
    // The server's own counter is untouched: still a counter, with no custom labels.
    assert.match(text, /# TYPE tessera_model_infer_requests_total counter/);
    assert.doesNotMatch(text, /tessera_model_infer_requests_total\{[^}]*model_name=/);
  });
});
