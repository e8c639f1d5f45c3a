import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, ServerError, redactPaths } from '../../../server/src/errors.js';
import { checkOnnxFile, describeLoadError } from '../../../server/src/runtime/onnx-load-error.js';

const SOURCE = 'm/model-settings.json';
// A C++ frame exactly as onnxruntime-node 1.30 reports an empty model.onnx.
const FRAME =
  'onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&)';

async function rejection(promise: Promise<unknown>): Promise<ServerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ServerError, `a ServerError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('checkOnnxFile', () => {
  let dir: string;
  before(async () => {
    // A folder with a space: the messages must not carry any part of it.
    dir = await mkdtemp(join(tmpdir(), 'tessera load errors '));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says an empty file is empty', async () => {
    const file = join(dir, 'model.onnx');
    await writeFile(file, '');
    const error = await rejection(checkOnnxFile(file, SOURCE));
    assert.equal(error.code, ErrorCode.MODEL_LOAD_FAILED);
    assert.equal(error.message, `${SOURCE}: model.onnx is empty`);
  });

  it('says a text file is not an ONNX file', async () => {
    const file = join(dir, 'garbage.onnx');
    await writeFile(file, 'this is not an ONNX model.\n');
    const error = await rejection(checkOnnxFile(file, SOURCE));
    assert.equal(
      error.message,
      `${SOURCE}: garbage.onnx is not an ONNX file (it does not start like an ONNX model)`,
    );
  });

  it('names the file type of a pickle or a tree model and what reads it', async () => {
    const pickle = join(dir, 'model.joblib');
    await writeFile(pickle, Buffer.from([0x80, 0x04, 0x95, 0x10, 0x00]));
    const refused = await rejection(checkOnnxFile(pickle, SOURCE));
    assert.match(
      refused.message,
      /model\.joblib is a Python pickle\/joblib file, not an ONNX file: a pickled scikit-learn model cannot run in Node\. Convert it once with skl2onnx/,
    );
    const xgb = join(dir, 'model.json');
    await writeFile(xgb, '{"learner": {}, "version": [3, 2, 0]}');
    assert.equal(
      (await rejection(checkOnnxFile(xgb, SOURCE))).message,
      `${SOURCE}: model.json is an XGBoost JSON model, not an ONNX file; it is read by the 'xgboost' implementation`,
    );
    const lgb = join(dir, 'model.txt');
    await writeFile(lgb, 'tree\nversion=v4\n');
    assert.match(
      (await rejection(checkOnnxFile(lgb, SOURCE))).message,
      /model\.txt is a LightGBM text model, not an ONNX file; it is read by the 'lightgbm' implementation/,
    );
  });

  it('accepts real models and ORT-format files', async () => {
    await checkOnnxFile('examples/models/iris/model.onnx', SOURCE);
    const ort = join(dir, 'model.ort');
    await writeFile(ort, Buffer.from('\x1c\x00\x00\x00ORTM\x00\x00', 'latin1'));
    await checkOnnxFile(ort, SOURCE);
    const copy = join(dir, 'strings.onnx');
    await copyFile('test/fixtures/models/strings/model.onnx', copy);
    await checkOnnxFile(copy, SOURCE);
  });

  it('says a missing file cannot be read, without its path', async () => {
    const error = await rejection(checkOnnxFile(join(dir, 'gone.onnx'), SOURCE));
    assert.equal(error.message, `${SOURCE}: gone.onnx cannot be read (check its permissions)`);
  });
});

describe('describeLoadError', () => {
  const file = '/srv/my models/iris/model.onnx';

  it('translates an empty-graph failure, with no frame and no path', () => {
    const raw = new Error(
      `Load model from ${file} failed:/${FRAME} ModelProto does not have a graph.\n`,
    );
    const error = describeLoadError(raw, file, SOURCE);
    assert.equal(error.code, ErrorCode.MODEL_LOAD_FAILED);
    assert.equal(error.message, `${SOURCE}: model.onnx is not an ONNX model (it has no graph)`);
  });

  it('translates a protobuf parse failure', () => {
    const raw = new Error(`Load model from ${file} failed:Protobuf parsing failed.`);
    assert.equal(
      describeLoadError(raw, file, SOURCE).message,
      `${SOURCE}: model.onnx is not a valid ONNX file (is it truncated?)`,
    );
  });

  it('keeps the human sentence of other failures and drops frames and paths', () => {
    const raw = new Error(
      `Load model from ${file} failed:/${FRAME} Opset 99 is under development and support for this is limited.`,
    );
    const message = describeLoadError(raw, file, SOURCE).message;
    assert.equal(
      message,
      `${SOURCE}: model.onnx could not be loaded by ONNX Runtime: Opset 99 is under development and support for this is limited.`,
    );
  });

  it('passes ServerErrors through', () => {
    const own = new ServerError(ErrorCode.MODEL_LOAD_FAILED, 'x');
    assert.equal(describeLoadError(own, file, SOURCE), own);
  });
});

describe('redactPaths', () => {
  it('does not take the d: of failed: for a drive letter', () => {
    assert.equal(
      redactPaths('Load failed:/onnxruntime_src/core/model.cc:187 x'),
      'Load failed:<path>:187 x',
    );
  });

  it('removes paths with spaces in their folders whole', () => {
    assert.equal(
      redactPaths('cannot open /srv/my models/iris/model.onnx now'),
      'cannot open <path> now',
    );
  });

  it('removes Windows paths', () => {
    assert.equal(redactPaths('at C:\\models\\iris\\m.onnx now'), 'at <path> now');
  });

  it('removes known paths exactly, whatever they contain', () => {
    assert.equal(
      redactPaths('open /srv/a b/x y.onnx: denied', ['/srv/a b/x y.onnx', '/srv/a b']),
      'open <path>: denied',
    );
  });

  it('leaves ordinary text alone', () => {
    assert.equal(
      redactPaths('shape [1, 4] / 2 and input/output'),
      'shape [1, 4] / 2 and input/output',
    );
  });
});
