// Which path serves a folder that both a native runtime and the Python worker can serve: MLServer's
// mnist walk-through folder (an SVC pickled with joblib, and the same model converted by skl2onnx
// next to it, built by test/peers/python/mlserver_models.py) under mlserver_sklearn.SKLearnModel.
// By default the native ONNX runtime serves it even with a Python configured; with
// `parameters.serve_with: "python"` MLServer's own SKLearnModel unpickles it in the Python worker.
// Both answer with the digits scikit-learn predicted, and the chosen path is in the model metadata
// and the server log. Without its ONNX file the same folder (a pickle only) goes to the Python
// worker by default, since no native runtime can serve it, unless serve_with says "native".
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  makeWalkthroughModels,
  mlserverPython,
  type WalkthroughExpectations,
} from '../../support/mlserver-peer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

describe('native or Python for mlserver_sklearn.SKLearnModel (mnist walk-through)', () => {
  let built: string;
  let root: string;
  let exp: WalkthroughExpectations;
  let server: ServerProcess;

  /** A copy of the walk-through folder under another name, with extra parameters. */
  async function variant(
    name: string,
    parameters: Record<string, unknown>,
    { pickleOnly = false } = {},
  ): Promise<void> {
    const folder = join(root, name);
    await cp(join(built, 'repo', 'mnist-svm'), folder, { recursive: true });
    if (pickleOnly) {
      for (const f of await readdir(folder)) {
        if (f.endsWith('.onnx')) await rm(join(folder, f));
      }
    }
    const file = join(folder, 'model-settings.json');
    const settings = JSON.parse(await readFile(file, 'utf8')) as {
      parameters: Record<string, unknown>;
    };
    await writeFile(
      file,
      JSON.stringify({ ...settings, name, parameters: { ...settings.parameters, ...parameters } }),
    );
  }

  before(async () => {
    built = await mkdtemp(join(tmpdir(), 'tessera-walkthrough-'));
    root = await mkdtemp(join(tmpdir(), 'tessera-python-choice-'));
    exp = await makeWalkthroughModels(built);
    await variant('mnist-native', {});
    await variant('mnist-python', { serve_with: 'python' });
    await variant('mnist-pickle', {}, { pickleOnly: true });
    await variant('mnist-pickle-native', { serve_with: 'native' }, { pickleOnly: true });
    server = await startServer({
      folder: root,
      env: { TESSERA_PYTHON_EXECUTABLE: mlserverPython() },
      timeoutMs: 60_000,
    });
  });

  after(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
    await rm(built, { recursive: true, force: true });
  });

  async function predict(model: string): Promise<number[]> {
    const rest = await postJson(`${server.httpUrl}/v2/models/${model}/infer`, {
      inputs: [
        {
          name: 'predict',
          datatype: 'FP64',
          shape: [exp.mnist.rows.length, 64],
          data: exp.mnist.rows.flat(),
        },
      ],
    });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    const outputs = (rest.body as { outputs: { name: string; data: number[] }[] }).outputs;
    assert.equal(outputs[0]?.name, 'predict');
    return outputs[0]?.data ?? [];
  }

  async function runtimePath(model: string): Promise<unknown> {
    const meta = (await fetch(`${server.httpUrl}/v2/models/${model}`).then((r) => r.json())) as {
      parameters?: Record<string, unknown>;
    };
    return meta.parameters?.['runtime_path'];
  }

  it('serves the folder natively by default, with the digits scikit-learn predicted', async () => {
    assert.deepEqual(await predict('mnist-native'), exp.mnist.predict);
    assert.equal(await runtimePath('mnist-native'), 'native');
  });

  it('serves it with MLServer SKLearnModel in the Python worker when serve_with says python', async () => {
    assert.deepEqual(await predict('mnist-python'), exp.mnist.predict);
    assert.equal(await runtimePath('mnist-python'), 'python');
    const served = server.logs.filter(
      (l) => (l as { msg?: string }).msg === 'model served by the Python worker',
    ) as { model?: string }[];
    // The default folder stays native; the pickle-only one (below) goes to Python too.
    assert.deepEqual(served.map((l) => l.model).sort(), ['mnist-pickle', 'mnist-python']);
  });

  it('serves a folder with only the pickle in the Python worker by default', async () => {
    assert.deepEqual(await predict('mnist-pickle'), exp.mnist.predict);
    assert.equal(await runtimePath('mnist-pickle'), 'python');
  });

  it('keeps serve_with "native" on a pickle-only folder UNAVAILABLE with the reason', async () => {
    const index = await postJson(`${server.httpUrl}/v2/repository/index`, {});
    const entry = (index.body as { name: string; state: string; reason: string }[]).find(
      (m) => m.name === 'mnist-pickle-native',
    );
    assert.equal(entry?.state, 'UNAVAILABLE', JSON.stringify(index.body));
    assert.match(
      entry.reason,
      /\.joblib is a Python pickle\/joblib file: a pickled scikit-learn model cannot run in Node .*serve_with is "native": remove it/,
    );
  });
});
