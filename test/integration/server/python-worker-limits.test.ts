// The Python worker's limits on the real server with the mlserver 1.7.1 virtualenv: a bounded
// number of requests in flight (one more answers 503 SRV_ERR_OVERLOADED at once, the first still
// succeeds), a per-request deadline (a predict that never returns answers 504 and the worker keeps
// serving), the model's own stderr in the server's structured log, and the worker's lifetime
// (stopped with its last model, started again by the next load, killed when hung and deaf to
// SIGTERM, restarted again and again while its interpreter is missing). A gate model holds its
// predict until the test creates a file, so every step waits for an observable event (the file
// the predict writes on entry), never for a fixed time.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertCleanMessage } from '../../support/error-checks.js';
import { mlserverPython } from '../../support/mlserver-peer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson, waitFor } from './lifecycle-helpers.js';

// `entered` is written when a predict starts; it returns once `open` exists.
const GATE_PY = `
import asyncio, os, signal, sys, time
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceResponse


class Gate(MLModel):
    async def load(self):
        print("gate model loading from its own stderr", file=sys.stderr, flush=True)
        return True

    async def predict(self, payload):
        gate = self.settings.parameters.extra["gate"]
        if payload.parameters is not None and getattr(payload.parameters, "hang", False):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while not os.path.exists(os.path.join(gate, "open")):
                time.sleep(0.01)
        open(os.path.join(gate, "entered"), "w").close()
        while not os.path.exists(os.path.join(gate, "open")):
            await asyncio.sleep(0.01)
        x = NumpyCodec.decode_input(payload.inputs[0])
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("y", x)])
`;

const INPUT = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [4] }] };

interface Gated {
  readonly root: string;
  readonly gate: string;
  readonly server: ServerProcess;
}

async function startGated(env: Record<string, string>): Promise<Gated> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-python-limits-'));
  const gate = join(root, 'gate-files');
  await mkdir(join(root, 'gate'), { recursive: true });
  await mkdir(gate);
  await writeFile(join(root, 'gate', 'models.py'), GATE_PY);
  await writeFile(
    join(root, 'gate', 'model-settings.json'),
    JSON.stringify({
      name: 'gate',
      implementation: 'models.Gate',
      parameters: { extra: { gate } },
    }),
  );
  const server = await startServer({
    folder: root,
    env: { TESSERA_PYTHON_EXECUTABLE: mlserverPython(), ...env },
    timeoutMs: 60_000,
  });
  return { root, gate, server };
}

async function stopGated(gated: Gated | undefined): Promise<void> {
  if (gated === undefined) return;
  // Let any held predict finish so the worker stops at once.
  await writeFile(join(gated.gate, 'open'), '').catch(() => undefined);
  await gated.server.stop();
  await rm(gated.root, { recursive: true, force: true });
}

describe('python worker limits (mlserver 1.7.1)', () => {
  describe('a bounded number of requests in flight', () => {
    let gated: Gated;
    before(async () => {
      gated = await startGated({ TESSERA_PYTHON_MAX_IN_FLIGHT: '1' });
    });
    after(() => stopGated(gated));

    it('refuses one request over python_max_in_flight with 503 and serves the first', async () => {
      const url = `${gated.server.httpUrl}/v2/models/gate/infer`;
      const first = postJson(url, INPUT);
      await waitFor(() => existsSync(join(gated.gate, 'entered')), 'the first predict started');
      const second = await postJson(url, INPUT);
      assert.equal(second.status, 503, JSON.stringify(second.body));
      assertCleanMessage(JSON.stringify(second.body), ['python_max_in_flight']);
      await writeFile(join(gated.gate, 'open'), '');
      const answered = await first;
      assert.equal(answered.status, 200, JSON.stringify(answered.body));
      assert.deepEqual((answered.body as { outputs: { data: number[] }[] }).outputs[0]?.data, [4]);
    });

    it('splits a Python request into compute_infer (its predict) and queue (the rest)', async () => {
      const stats = async (): Promise<Record<string, { count: number; ns: number }>> => {
        const res = await fetch(`${gated.server.httpUrl}/v2/models/gate/stats`);
        const body = (await res.json()) as {
          model_stats: { inference_stats: Record<string, { count: number; ns: number }> }[];
        };
        const found = body.model_stats[0]?.inference_stats;
        assert.ok(found, 'the gate model has statistics');
        return found;
      };
      const before = await stats();
      // The gate is open (the test above opened it): the predict returns at once.
      const reply = await postJson(`${gated.server.httpUrl}/v2/models/gate/infer`, INPUT);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const after = await stats();
      const delta = (key: string): { count: number; ns: number } => ({
        count: (after[key]?.count ?? 0) - (before[key]?.count ?? 0),
        ns: (after[key]?.ns ?? 0) - (before[key]?.ns ?? 0),
      });
      assert.equal(delta('success').count, 1);
      assert.equal(delta('compute_infer').count, 1);
      // The hop to the worker process and back is queue; the predict alone is compute_infer.
      assert.ok(delta('queue').ns > 0, `queue ${delta('queue').ns} ns`);
      assert.ok(delta('compute_infer').ns > 0, `compute_infer ${delta('compute_infer').ns} ns`);
      assert.ok(
        delta('queue').ns + delta('compute_infer').ns <= delta('success').ns,
        JSON.stringify({
          queue: delta('queue'),
          infer: delta('compute_infer'),
          success: delta('success'),
        }),
      );
    });

    it("writes the model's stderr to the server's structured log", () => {
      const line = gated.server.logs.find(
        (l) =>
          typeof l === 'object' &&
          l !== null &&
          (l as { msg?: string }).msg === 'gate model loading from its own stderr',
      ) as { worker?: string; stream?: string; level?: number } | undefined;
      assert.ok(line !== undefined, 'the line is in the server log');
      assert.equal(line.worker, 'python');
      assert.equal(line.stream, 'stderr');
    });
  });

  describe('a worker per interpreter, for as long as it holds models', () => {
    let gated: Gated;
    before(async () => {
      gated = await startGated({});
    });
    after(() => stopGated(gated));

    const started = (): { pid: number }[] =>
      gated.server.logs.filter((l) => (l as { msg?: string }).msg === 'Python worker started') as {
        pid: number;
      }[];
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };

    it('stops the worker when its last model unloads and starts one on the next load', async () => {
      await writeFile(join(gated.gate, 'open'), '');
      await waitFor(() => started().length > 0, 'the first worker started');
      assert.equal(started().length, 1, 'one worker started for the one model');
      const pid = started()[0]!.pid;
      assert.ok(alive(pid));
      const base = `${gated.server.httpUrl}/v2/repository/models/gate`;
      const unloaded = await postJson(`${base}/unload`);
      assert.equal(unloaded.status, 200, JSON.stringify(unloaded.body));
      await waitFor(() => !alive(pid), 'the worker process exited');
      const loaded = await postJson(`${base}/load`);
      assert.equal(loaded.status, 200, JSON.stringify(loaded.body));
      // The log line reaches the test through the server's stdout, which may trail the answer.
      await waitFor(() => started().length === 2, 'a fresh worker started');
      assert.notEqual(started()[1]!.pid, pid);
      const answered = await postJson(`${gated.server.httpUrl}/v2/models/gate/infer`, INPUT);
      assert.equal(answered.status, 200, JSON.stringify(answered.body));
    });
  });

  describe('a worker whose interpreter disappears', () => {
    let root: string;
    let server: ServerProcess;
    const env = (): string => join(root, 'env');
    /** A virtualenv that borrows the mlserver one's files, so its python can be taken away. */
    const python = (): string => join(env(), 'bin', 'python');

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-python-gone-'));
      const real = dirname(dirname(mlserverPython()));
      await mkdir(join(env(), 'bin'), { recursive: true });
      await cp(join(real, 'pyvenv.cfg'), join(env(), 'pyvenv.cfg'));
      await symlink(join(real, 'lib'), join(env(), 'lib'));
      await symlink(mlserverPython(), python());
      await mkdir(join(root, 'echo'));
      await writeFile(join(root, 'echo', 'models.py'), GATE_PY);
      await mkdir(join(root, 'gate-files'));
      await writeFile(join(root, 'gate-files', 'open'), '');
      await writeFile(
        join(root, 'echo', 'model-settings.json'),
        JSON.stringify({
          name: 'echo',
          implementation: 'models.Gate',
          parameters: { environment_path: env(), extra: { gate: join(root, 'gate-files') } },
        }),
      );
      server = await startServer({ folder: root, timeoutMs: 60_000 });
    });

    after(async () => {
      await server?.stop();
      await rm(root, { recursive: true, force: true });
    });

    it('keeps retrying while the interpreter is missing and serves again once it is back', async () => {
      const url = `${server.httpUrl}/v2/models/echo/infer`;
      assert.equal((await postJson(url, INPUT)).status, 200);
      const messages = (): string[] => server.logs.map((l) => (l as { msg?: string }).msg ?? '');
      const started = server.logs.filter(
        (l) => (l as { msg?: string }).msg === 'Python worker started',
      ) as { pid: number }[];
      await rm(python());
      process.kill(started.at(-1)!.pid, 'SIGKILL');
      // Two failed tries in a row: the retries go on without an exit to trigger them.
      await waitFor(
        () => messages().filter((m) => m === 'the Python worker did not come back').length >= 2,
        'two failed restarts',
        30_000,
      );
      const down = await postJson(url, INPUT);
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assertCleanMessage(JSON.stringify(down.body), ['the Python worker is restarting']);
      // Status tells the truth meanwhile: the index and model readiness say it is not serving.
      const index = async (): Promise<{ name: string; state: string; reason: string }[]> =>
        (await postJson(`${server.httpUrl}/v2/repository/index`, {})).body as {
          name: string;
          state: string;
          reason: string;
        }[];
      const downEntry = (await index()).find((e) => e.name === 'echo');
      assert.equal(downEntry?.state, 'UNAVAILABLE', JSON.stringify(downEntry));
      assertCleanMessage(downEntry.reason, ['the Python worker is restarting']);
      const notReady = await fetch(`${server.httpUrl}/v2/models/echo/ready`);
      assert.equal(notReady.status, 503);
      assertCleanMessage(JSON.stringify(await notReady.json()), [
        'the Python worker is restarting',
      ]);
      await symlink(mlserverPython(), python());
      await waitFor(
        () => messages().includes('Python worker restarted; models loaded again'),
        'the worker came back',
        30_000,
      );
      const back = await postJson(url, INPUT);
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal((await index()).find((e) => e.name === 'echo')?.state, 'READY');
      assert.equal((await fetch(`${server.httpUrl}/v2/models/echo/ready`)).status, 200);
    });
  });

  describe('a per-request deadline', () => {
    let gated: Gated;
    before(async () => {
      // The drain is short: the request abandoned at its deadline keeps the model leased (the
      // core never frees a model a runtime still runs), and the hung-worker case unloads it.
      gated = await startGated({
        TESSERA_INFER_TIMEOUT_SECONDS: '1',
        TESSERA_DRAIN_TIMEOUT_SECONDS: '1',
      });
    });
    after(() => stopGated(gated));

    it('answers 504 when predict outlives infer_timeout_seconds, then serves again', async () => {
      const url = `${gated.server.httpUrl}/v2/models/gate/infer`;
      const late = await postJson(url, INPUT);
      assert.equal(late.status, 504, JSON.stringify(late.body));
      assertCleanMessage(JSON.stringify(late.body), []);
      await writeFile(join(gated.gate, 'open'), '');
      const next = await postJson(url, INPUT);
      assert.equal(next.status, 200, JSON.stringify(next.body));
    });

    it('kills a hung worker that ignores SIGTERM, so its unload completes', async () => {
      await rm(join(gated.gate, 'open'));
      // A predict that blocks the worker's event loop and ignores SIGTERM (as a library's own
      // handler may): abandoned at its deadline, it still holds the process, so the unload's
      // message goes unanswered and the stop's SIGTERM unheeded; the unload must still finish.
      const hung = await postJson(`${gated.server.httpUrl}/v2/models/gate/infer`, {
        ...INPUT,
        parameters: { hang: true },
      });
      assert.equal(hung.status, 504, JSON.stringify(hung.body));
      const started = gated.server.logs.filter(
        (l) => (l as { msg?: string }).msg === 'Python worker started',
      ) as { pid: number }[];
      const pid = started.at(-1)!.pid;
      const unloaded = await postJson(`${gated.server.httpUrl}/v2/repository/models/gate/unload`);
      assert.equal(unloaded.status, 200, JSON.stringify(unloaded.body));
      assert.ok(
        gated.server.logs.some(
          (l) => (l as { msg?: string }).msg === 'the Python worker ignored SIGTERM; killing it',
        ),
        'the server logged the kill',
      );
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    });
  });
});
