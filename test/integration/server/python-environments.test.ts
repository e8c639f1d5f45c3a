// Per-model Python environments (docs/python-runtimes.md), MLServer's custom-environment
// walk-through adapted: the walk-through's mnist-svm (an SVC pickled with joblib) trained with an
// OLDER scikit-learn (1.5.2, under mlserver 1.6.1) inside its own environment and served from a
// venv-pack tarball through `parameters.environment_tarball` (test/peers/mlserver-env.peer.mjs),
// beside the same model trained with scikit-learn 1.9.1 (mlserver 1.7.1) in the mlserver peer's
// virtualenv; one server, each answering what its own scikit-learn predicts, and a `Versions`
// runtime in each environment saying which scikit-learn and mlserver its worker imports. Then the
// faults, each a precise reason while the rest keep serving: a missing tarball, a truncated one,
// an environment without mlserver, and crafted tarballs that try to write outside their folder.
// Last, a second server on the same environments_dir with the tarball as the server-wide
// MLSERVER_ENV_TARBALL reuses the unpacked folder (no unpack in its log, same inode and mtime),
// and a third with environments_cache_bytes 0 keeps the folder its model uses, removes the unused
// one at once and the used one when its model unloads.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { tarGz, type TarEntry } from '../../support/archives.js';
import { assertCleanMessage } from '../../support/error-checks.js';
import {
  mlserverPython,
  startPythonServer,
  type PythonServer,
} from '../../support/mlserver-peer.js';
import { lastJsonLine, runPython } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { postJson, restIndex, waitFor } from './lifecycle-helpers.js';

interface Trained {
  sklearn: string;
  rows: number[][];
  predict: number[];
}

const PEER = join(REPO_ROOT, 'test', 'peers', 'mlserver-env');

function peerEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '' || !existsSync(value)) {
    throw new Error(`${name} is not set: run the tests through scripts/run-tests.mjs`);
  }
  return value;
}

async function model(root: string, name: string, settings: object): Promise<string> {
  const folder = join(root, name);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'model-settings.json'), JSON.stringify({ name, ...settings }));
  return folder;
}

/** Trains the walk-through's mnist-svm into `folder` with `python`'s scikit-learn. */
async function train(python: string, folder: string): Promise<Trained> {
  const run = await runPython(
    [join(PEER, 'train_mnist_svm.py'), '--out', folder],
    180_000,
    undefined,
    python,
  );
  assert.equal(run.code, 0, run.stderr.slice(-2000));
  return lastJsonLine(run.stdout) as Trained;
}

async function writeTarball(file: string, entries: readonly TarEntry[]): Promise<void> {
  await writeFile(file, await tarGz(entries));
}

async function infer(httpUrl: string, name: string, body: object) {
  return postJson(`${httpUrl}/v2/models/${name}/infer`, body);
}

async function versions(httpUrl: string, name: string): Promise<string[]> {
  const res = await infer(httpUrl, name, {
    inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: ['?'] }],
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body as { outputs: { data: string[] }[] }).outputs[0]?.data ?? [];
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function stop(running: PythonServer): Promise<void> {
  running.grpc.close();
  await running.server.stop();
}

function unpackLogs(running: PythonServer, msg: string): { environment?: string }[] {
  return running.server.logs.filter((l) => (l as { msg?: string }).msg === msg) as {
    environment?: string;
  }[];
}

describe('per-model Python environments (environment_tarball, venv-pack)', () => {
  let root: string;
  let envs: string;
  let outside: string;
  let old: Trained;
  let oldHash: string;
  let fresh: Trained;
  let running: PythonServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-python-envs-'));
    envs = join(root, 'environments');
    outside = join(root, 'outside');
    const models = join(root, 'models');
    const tarball = peerEnv('TESSERA_MLSERVER_ENV_TARBALL');
    oldHash = await sha256(tarball);

    // The walk-through's layout: model.joblib, model-settings.json and the environment tarball
    // in one folder (a link to the peer's tarball, named as the walk-through names it).
    const svmOld = await model(models, 'mnist-svm', {
      implementation: 'mlserver_sklearn.SKLearnModel',
      parameters: { environment_tarball: './environment.tar.gz' },
    });
    await symlink(tarball, join(svmOld, 'environment.tar.gz'));
    old = await train(peerEnv('TESSERA_MLSERVER_ENV_PYTHON'), svmOld);
    const versionsOld = await model(models, 'versions-old', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: 'env/old-sklearn.tar.gz' },
    });
    await copyFile(join(PEER, 'versions.py'), join(versionsOld, 'versions.py'));
    await mkdir(join(versionsOld, 'env'));
    await symlink(tarball, join(versionsOld, 'env', 'old-sklearn.tar.gz'));

    // The other environment: the mlserver peer's virtualenv (scikit-learn 1.9.1).
    const newEnv = dirname(dirname(mlserverPython()));
    const svmNew = await model(models, 'mnist-svm-new', {
      implementation: 'mlserver_sklearn.SKLearnModel',
      parameters: { uri: './model.joblib', environment_path: newEnv },
    });
    fresh = await train(mlserverPython(), svmNew);
    const versionsNew = await model(models, 'versions-new', {
      implementation: 'versions.Versions',
      parameters: { environment_path: newEnv },
    });
    await copyFile(join(PEER, 'versions.py'), join(versionsNew, 'versions.py'));

    // Faults.
    await model(models, 'missing-env', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: './nowhere.tar.gz' },
    });
    const truncated = await model(models, 'truncated-env', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: './environment.tar.gz' },
    });
    const head = Buffer.alloc(256 * 1024);
    const handle = await open(tarball, 'r');
    await handle.read(head, 0, head.length, 0);
    await handle.close();
    await writeFile(join(truncated, 'environment.tar.gz'), head);
    const bare = await model(models, 'no-mlserver-env', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: './environment.tar.gz' },
    });
    await symlink(peerEnv('TESSERA_NO_MLSERVER_ENV_TARBALL'), join(bare, 'environment.tar.gz'));
    const dotdot = await model(models, 'escape-dotdot', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: './environment.tar.gz' },
    });
    await writeTarball(join(dotdot, 'environment.tar.gz'), [
      { name: 'bin/', type: 'directory' },
      { name: '../../outside/dotdot.txt', content: Buffer.from('escaped') },
    ]);
    const throughLink = await model(models, 'escape-link', {
      implementation: 'versions.Versions',
      parameters: { environment_tarball: './environment.tar.gz' },
    });
    // bin/python3 may point at a base interpreter outside; nothing may be written through it.
    await mkdir(outside);
    await writeTarball(join(throughLink, 'environment.tar.gz'), [
      { name: 'bin/python3', type: 'symlink', linkname: outside },
      { name: 'bin/python3/link.txt', content: Buffer.from('escaped') },
    ]);

    running = await startPythonServer(models, { TESSERA_ENVIRONMENTS_DIR: envs }, 300_000);
    const url = running.server.httpUrl;
    await waitFor(
      async () =>
        (await restIndex(url)).every((e) => e.state === 'READY' || e.state === 'UNAVAILABLE'),
      'every model to be loaded or refused',
      300_000,
    );
  });

  after(async () => {
    if (running !== undefined) await stop(running);
    await rm(root, { recursive: true, force: true });
  });

  it('serves the walk-through model from its own tarball with the old scikit-learn', async () => {
    assert.equal(old.sklearn, '1.5.2');
    const url = running!.server.httpUrl;
    // The walk-through's request: rows of 8x8 digits as one FP32 [N, 64] tensor.
    const res = await infer(url, 'mnist-svm', {
      inputs: [
        { name: 'predict', shape: [old.rows.length, 64], datatype: 'FP32', data: old.rows.flat() },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const out = (res.body as { outputs: { name: string; data: number[] }[] }).outputs[0];
    assert.equal(out?.name, 'predict');
    assert.deepEqual(out?.data, old.predict);
    assert.deepEqual(await versions(url, 'versions-old'), ['scikit-learn 1.5.2', 'mlserver 1.6.1']);
    const meta = (await fetch(`${url}/v2/models/mnist-svm`).then((r) => r.json())) as {
      parameters?: Record<string, unknown>;
    };
    assert.equal(meta.parameters?.['mlserver_version'], '1.6.1');
  });

  it('serves the other model from the other environment in the same server', async () => {
    assert.equal(fresh.sklearn, '1.9.1');
    const url = running!.server.httpUrl;
    const res = await infer(url, 'mnist-svm-new', {
      inputs: [
        {
          name: 'predict',
          shape: [fresh.rows.length, 64],
          datatype: 'FP32',
          data: fresh.rows.flat(),
        },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const out = (res.body as { outputs: { data: number[] }[] }).outputs[0];
    assert.deepEqual(out?.data, fresh.predict);
    assert.deepEqual(await versions(url, 'versions-new'), ['scikit-learn 1.9.1', 'mlserver 1.7.1']);
  });

  it('unpacks a tarball once for the models that share it, into environments_dir/<sha256>', async () => {
    const unpacked = unpackLogs(running!, 'environment tarball unpacked');
    // Two loads at once named it (mnist-svm, versions-old): one unpack.
    assert.equal(unpacked.filter((l) => l.environment === oldHash).length, 1);
    // Finished folders only (the tarball without mlserver unpacks fine): no partial folder and
    // no lock left, the refused tarballs' removed.
    const noMlserverHash = await sha256(peerEnv('TESSERA_NO_MLSERVER_ENV_TARBALL'));
    // Beside them, `<sha256>.users` records this server's use of the one its models hold.
    assert.deepEqual(
      (await readdir(envs)).sort(),
      [oldHash, `${oldHash}.users`, noMlserverHash].sort(),
    );
    assert.ok(existsSync(join(envs, oldHash, 'bin', 'python')));
  });

  it('refuses each broken environment with a precise reason and keeps serving', async () => {
    const url = running!.server.httpUrl;
    const index = await restIndex(url);
    const entry = (name: string) => index.find((e) => e.name === name);
    for (const name of ['mnist-svm', 'versions-old', 'mnist-svm-new', 'versions-new']) {
      assert.equal(entry(name)?.state, 'READY', `${name}: ${entry(name)?.reason ?? ''}`);
    }
    const refused = (name: string, mentions: readonly (string | RegExp)[]) => {
      assert.equal(entry(name)?.state, 'UNAVAILABLE', name);
      assertCleanMessage(entry(name)?.reason ?? '', mentions);
    };
    refused('missing-env', ["environment tarball './nowhere.tar.gz' does not exist"]);
    refused('truncated-env', [
      "environment tarball './environment.tar.gz'",
      'corrupt or truncated',
    ]);
    refused('no-mlserver-env', ['cannot import mlserver', 'environment_tarball']);
    refused('escape-dotdot', ["entry '../../outside/dotdot.txt' contains '..'"]);
    refused('escape-link', ["entry 'bin/python3/link.txt' goes through the link 'bin/python3'"]);
    assert.deepEqual(await readdir(outside), []);
    assert.equal(existsSync(join(root, 'outside', 'dotdot.txt')), false);
    assert.deepEqual(await versions(url, 'versions-old'), ['scikit-learn 1.5.2', 'mlserver 1.6.1']);
  });

  it('reuses the unpacked folder after a restart (server-wide MLSERVER_ENV_TARBALL)', async () => {
    const folder = join(envs, oldHash);
    const before = await stat(folder);
    await stop(running!);
    running = undefined;

    const models = join(root, 'second');
    // No environment of its own: the server-wide tarball serves it (serve_with: a pickle-only
    // SKLearnModel goes to the Python worker only when asked, as with python_executable).
    const svm = await model(models, 'mnist-svm', {
      implementation: 'mlserver_sklearn.SKLearnModel',
      parameters: { serve_with: 'python' },
    });
    await copyFile(join(root, 'models', 'mnist-svm', 'model.joblib'), join(svm, 'model.joblib'));
    running = await startPythonServer(
      models,
      {
        TESSERA_ENVIRONMENTS_DIR: envs,
        MLSERVER_ENV_TARBALL: peerEnv('TESSERA_MLSERVER_ENV_TARBALL'),
      },
      300_000,
    );
    const url = running.server.httpUrl;
    await waitFor(
      async () =>
        (await restIndex(url)).every((e) => e.state === 'READY' || e.state === 'UNAVAILABLE'),
      'mnist-svm to load',
      120_000,
    );
    const res = await infer(url, 'mnist-svm', {
      inputs: [
        { name: 'predict', shape: [old.rows.length, 64], datatype: 'FP32', data: old.rows.flat() },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual((res.body as { outputs: { data: number[] }[] }).outputs[0]?.data, old.predict);
    assert.deepEqual(unpackLogs(running, 'unpacking an environment tarball'), []);
    assert.deepEqual(
      unpackLogs(running, 'reusing an unpacked environment').map((l) => l.environment),
      [oldHash],
    );
    const after = await stat(folder);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    await stop(running);
    running = undefined;
  });

  it('removes an environment once no model uses it, past environments_cache_bytes', async () => {
    const folder = join(envs, oldHash);
    assert.ok(existsSync(join(folder, 'bin', 'python')), 'left by the earlier servers');
    running = await startPythonServer(
      join(root, 'second'),
      {
        TESSERA_ENVIRONMENTS_DIR: envs,
        MLSERVER_ENV_TARBALL: peerEnv('TESSERA_MLSERVER_ENV_TARBALL'),
        TESSERA_ENVIRONMENTS_CACHE_BYTES: '0',
      },
      300_000,
    );
    const url = running.server.httpUrl;
    await waitFor(
      async () => (await restIndex(url)).every((e) => e.state === 'READY'),
      'mnist-svm to load',
      120_000,
    );
    // In use: kept, although the budget for unused ones is 0.
    assert.ok(existsSync(join(folder, 'bin', 'python')));
    // The other environment, unused since the first server, is removed at the first collection.
    const noMlserverHash = await sha256(peerEnv('TESSERA_NO_MLSERVER_ENV_TARBALL'));
    assert.equal(existsSync(join(envs, noMlserverHash)), false);
    const unloaded = await postJson(`${url}/v2/repository/models/mnist-svm/unload`);
    assert.equal(unloaded.status, 200, JSON.stringify(unloaded.body));
    assert.equal(existsSync(folder), false, 'removed once its last model unloaded');
    const current = running;
    const removals = (): unknown[] =>
      unpackLogs(current, 'removed an unused environment (environments_cache_bytes)').map(
        (l) => l.environment,
      );
    // The log lines reach the test through the server's stdout, which may trail the answer.
    await waitFor(() => removals().length >= 2, 'both removals logged');
    assert.deepEqual(removals().sort(), [noMlserverHash, oldHash].sort());
    // Loading it again unpacks it again (the unit tests cover that; 169 MB packed is slow here).
  });
});
