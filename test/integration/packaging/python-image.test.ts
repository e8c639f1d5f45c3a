// The python target of Dockerfile.server (tessera/server-python), its steps proved outside a
// container (this machine has no container engine): its virtualenv is built from the file the
// mlserver peer installs (test/peers/mlserver/requirements.txt, so TESSERA_MLSERVER_PYTHON is that
// virtualenv), `pip check` passes on it as the image's RUN requires, and the image's entrypoint
// command, with the image's ENV, serves a pickle-only mlserver_sklearn.SKLearnModel folder
// through the Python worker with no setting of its own and no write into the model folder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mlserverPython } from '../../support/mlserver-peer.js';
import { lastJsonLine, runPython } from '../../support/python-peer.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson } from '../server/lifecycle-helpers.js';
import { dockerStage, stageEnv } from './dockerfile.js';

const run = promisify(execFile);
const VENV = '/opt/tessera-python';

/** A custom runtime as MLServer's docs write one: the input, doubled. */
const DOUBLER = `from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class Doubler(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output("doubled", x * 2)]
        )
`;

interface Trained {
  rows: number[][];
  predict: number[];
}

describe('Dockerfile.server --target python', () => {
  const env = dockerStage('Dockerfile.server', 'python-env');
  const image = dockerStage('Dockerfile.server', 'python');
  const slim = dockerStage('Dockerfile.server', 'server');

  it('builds its virtualenv from the mlserver peer pins, with mlserver and mlserver-sklearn 1.7.1', () => {
    assert.match(env, /^COPY test\/peers\/mlserver\/requirements\.txt \/tmp\/requirements\.txt$/m);
    assert.match(env, /pip install --no-cache-dir -r \/tmp\/requirements\.txt/);
    assert.match(env, /bin\/python -m pip check/);
    const pins = readFileSync(join(REPO_ROOT, 'test/peers/mlserver/requirements.txt'), 'utf8');
    for (const pin of ['mlserver==1.7.1', 'mlserver-sklearn==1.7.1'])
      assert.match(pins, new RegExp(`^${pin.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('runs as the slim image does, with the virtualenv as its Python and no bytecode writes', () => {
    const vars = stageEnv(image);
    assert.equal(vars['TESSERA_PYTHON_EXECUTABLE'], `${VENV}/bin/python`);
    assert.equal(vars['PYTHONDONTWRITEBYTECODE'], '1');
    assert.equal(vars['NODE_ENV'], 'production');
    assert.match(image, new RegExp(`^COPY --from=python-env ${VENV} ${VENV}$`, 'm'));
    assert.match(image, /^USER 65532:65532$/m);
    for (const line of ['ENTRYPOINT ', 'CMD ', 'EXPOSE ', 'WORKDIR ']) {
      const of = (stage: string): string[] => stage.split('\n').filter((l) => l.startsWith(line));
      assert.deepEqual(of(image), of(slim), `${line.trim()} as in the slim image`);
    }
  });

  it("passes pip check on the virtualenv built from the image's requirements file", async () => {
    const { stdout } = await run(mlserverPython(), ['-m', 'pip', 'check'], { timeout: 60_000 });
    assert.match(stdout, /No broken requirements found/);
  });

  describe("the image's entrypoint with the image's ENV", () => {
    let root: string;
    let home: string;
    let trained: Trained;
    let server: ServerProcess | undefined;

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-python-image-'));
      home = await mkdtemp(join(tmpdir(), 'tessera-python-image-home-'));
      const folder = join(root, 'iris');
      const script = join(REPO_ROOT, 'test', 'peers', 'mlserver', 'train_sklearn.py');
      const trainRun = await runPython(
        [script, '--out', folder],
        120_000,
        undefined,
        mlserverPython(),
      );
      assert.equal(trainRun.code, 0, trainRun.stderr.slice(-2000));
      trained = lastJsonLine(trainRun.stdout) as Trained;
      // A folder as MLServer's walk-through has it: a pickle, no ONNX file, no serve_with.
      await writeFile(
        join(folder, 'model-settings.json'),
        JSON.stringify({ name: 'iris', implementation: 'mlserver_sklearn.SKLearnModel' }),
      );
      // A custom MLModel imported from its folder (models.Doubler): with the image's
      // PYTHONDONTWRITEBYTECODE, Python writes no __pycache__ beside it (the root filesystem and
      // the model volume are not the worker's to write).
      const custom = join(root, 'doubler');
      await mkdir(custom);
      await writeFile(join(custom, 'models.py'), DOUBLER);
      await writeFile(
        join(custom, 'model-settings.json'),
        JSON.stringify({ name: 'doubler', implementation: 'models.Doubler' }),
      );
      // The image's ENV, its paths mapped onto this machine: the virtualenv is the peer's (built
      // from the same file), and HOME a fresh folder standing for the pod's /tmp emptyDir.
      const vars = {
        ...stageEnv(image),
        TESSERA_PYTHON_EXECUTABLE: mlserverPython(),
        HOME: home,
      };
      server = await startServer({ folder: root, env: vars, timeoutMs: 90_000 });
    });

    after(async () => {
      await server?.stop();
      await rm(root, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    });

    it('serves the pickle through the Python worker with the labels scikit-learn computed', async () => {
      assert.ok(server);
      const meta = await fetch(`${server.httpUrl}/v2/models/iris`);
      assert.equal(meta.status, 200);
      const body = (await meta.json()) as { parameters?: Record<string, unknown> };
      assert.equal(body.parameters?.['runtime_path'], 'python');
      const res = await postJson(`${server.httpUrl}/v2/models/iris/infer`, {
        inputs: [
          {
            name: 'input-0',
            datatype: 'FP64',
            shape: [trained.rows.length, 4],
            data: trained.rows.flat(),
          },
        ],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const out = (res.body as { outputs: { name: string; data: number[] }[] }).outputs;
      assert.deepEqual(
        out.map((o) => o.name),
        ['predict'],
      );
      assert.deepEqual(out[0]?.data, trained.predict);
    });

    it('serves a custom MLModel from its folder and writes no bytecode beside it', async () => {
      assert.ok(server);
      const res = await postJson(`${server.httpUrl}/v2/models/doubler/infer`, {
        inputs: [{ name: 'x', datatype: 'FP64', shape: [3], data: [1, 2.5, -4] }],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const out = (res.body as { outputs: { name: string; data: number[] }[] }).outputs;
      assert.deepEqual(out[0]?.data, [2, 5, -8]);
      assert.deepEqual((await readdir(join(root, 'doubler'))).sort(), [
        'model-settings.json',
        'models.py',
      ]);
      assert.deepEqual((await readdir(join(root, 'iris'))).sort(), [
        'model-settings.json',
        'model.joblib',
      ]);
    });
  });
});
