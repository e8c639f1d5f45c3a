// MLServer's documentation walk-throughs and content types, with the same requests: the model
// folders are built with the real libraries (xgboost, lightgbm, scikit-learn + skl2onnx) by
// test/peers/python/mlserver_models.py, requests are built with the `mlserver` package's own
// codecs (NumpyRequestCodec, PandasCodec, StringRequestCodec, StringCodec, Base64Codec,
// DatetimeCodec) and the answers decoded with its InferenceResponse and codecs, over REST and
// gRPC (test/peers/mlserver/mlserver_client.py). Outputs must equal what Python predicted
// (1e-5 relative for floats).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  makeWalkthroughModels,
  mlserverRequests,
  type DecodedOutput,
  type MlserverCase,
  type MlserverResult,
  type WalkthroughExpectations,
} from '../../support/mlserver-peer.js';
import { grpcClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

const TOLERANCE = 1e-5;

/** The largest deviation any comparison saw, reported when the suite ends. */
let largestDeviation = 0;

function maxRelative(actual: readonly number[], expected: readonly number[]): number {
  assert.equal(actual.length, expected.length, 'element count');
  let worst = 0;
  expected.forEach((want, i) => {
    const got = actual[i] ?? Number.NaN;
    const diff = Math.abs(got - want);
    const rel = diff === 0 ? 0 : diff / Math.max(Math.abs(got), Math.abs(want));
    worst = Math.max(worst, Number.isNaN(rel) ? Number.POSITIVE_INFINITY : rel);
  });
  largestDeviation = Math.max(largestDeviation, worst);
  return worst;
}

/** The numeric values MLServer's NumpyCodec decoded, flattened, with the array's shape. */
function numbers(output: DecodedOutput | undefined): { shape: number[]; values: number[] } {
  assert.ok(output, 'output missing');
  const decoded = output.decoded as { shape: number[]; values: unknown };
  assert.ok(!Array.isArray(decoded), `${output.name} was not decoded as a NumPy array`);
  return { shape: decoded.shape, values: [decoded.values].flat(4) as number[] };
}

/** The answers of one case, REST and gRPC, each checked to be a success. */
function answers(results: readonly MlserverResult[], id: string, transports = 2): MlserverResult[] {
  const found = results.filter((r) => r.id === id);
  assert.equal(found.length, transports, `${id}: one answer per transport`);
  for (const r of found) {
    assert.equal(r.error, undefined, `${id} over ${r.transport}: ${r.error ?? ''}`);
  }
  return found;
}

function output(result: MlserverResult, name: string): DecodedOutput | undefined {
  return result.outputs?.find((o) => o.name === name);
}

void describe('MLServer walk-throughs and content types with the mlserver package', () => {
  let dir: string;
  let exp: WalkthroughExpectations;
  let server: ServerProcess;
  let mms: ServerProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-mlserver-'));
    exp = await makeWalkthroughModels(dir);
    server = await startServer({ folder: join(dir, 'repo'), timeoutMs: 60_000 });
    mms = await startServer({ folder: join(dir, 'mms'), timeoutMs: 60_000 });
  });

  after(async () => {
    console.log(`largest relative deviation from Python: ${largestDeviation.toExponential(2)}`);
    await server.stop();
    await mms.stop();
    await rm(dir, { recursive: true, force: true });
  });

  void it('mnist-svm: an SVC converted by skl2onnx, served as mlserver_sklearn.SKLearnModel', async () => {
    const first = exp.mnist.rows[0] ?? [];
    const cases: MlserverCase[] = [
      {
        // The walk-through's own request: input `predict`, FP32 [1,64], at the versioned path.
        id: 'docs',
        model: 'mnist-svm',
        version: 'v0.1.0',
        codec: 'raw',
        request: { inputs: [{ name: 'predict', shape: [1, 64], datatype: 'FP32', data: first }] },
      },
      {
        id: 'np',
        model: 'mnist-svm',
        codec: 'np_request',
        array: exp.mnist.rows,
        dtype: 'float64',
      },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of answers(results, 'docs')) {
      assert.equal(r.model_version, 'v0.1.0');
      const predict = output(r, 'predict');
      assert.equal(predict?.content_type, 'np');
      assert.deepEqual(numbers(predict), { shape: [1, 1], values: [8] });
    }
    for (const r of answers(results, 'np')) {
      assert.deepEqual(numbers(output(r, 'predict')), {
        shape: [exp.mnist.rows.length, 1],
        values: exp.mnist.predict,
      });
    }
  });

  void it('mushroom-xgboost: binary:logistic, with the docs request, NumpyRequestCodec and NaN', async () => {
    const cases: MlserverCase[] = [
      {
        id: 'docs',
        model: 'mushroom-xgboost',
        version: 'v0.1.0',
        codec: 'raw',
        request: {
          inputs: [
            { name: 'predict', shape: [1, 126], datatype: 'FP32', data: exp.mushroom.rows[0] },
          ],
        },
      },
      {
        id: 'np',
        model: 'mushroom-xgboost',
        codec: 'np_request',
        array: exp.mushroom.rows,
        dtype: 'float64',
      },
      // null rows become NaN in numpy; NumpyCodec sends NaN as JSON null. MLServer allows NaN
      // over REST only (its gRPC converter refuses NumpyCodec's None), so gRPC is checked below.
      {
        id: 'nan',
        model: 'mushroom-xgboost',
        codec: 'np_request',
        array: exp.mushroom.nan_rows,
        dtype: 'float64',
        transports: ['rest'],
      },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of answers(results, 'docs')) {
      const { shape, values } = numbers(output(r, 'predict'));
      assert.deepEqual(shape, [1, 1]);
      assert.ok(maxRelative(values, exp.mushroom.predict.slice(0, 1)) <= TOLERANCE);
    }
    for (const [id, want, transports] of [
      ['np', exp.mushroom.predict, 2],
      ['nan', exp.mushroom.nan_predict, 1],
    ] as const) {
      for (const r of answers(results, id, transports)) {
        const { shape, values } = numbers(output(r, 'predict'));
        assert.deepEqual(shape, [want.length, 1]);
        const deviation = maxRelative(values, want);
        assert.ok(deviation <= TOLERANCE, `${id} over ${r.transport}: deviation ${deviation}`);
      }
    }
    // Over gRPC NaN travels as itself in fp64_contents (a plain gRPC client).
    const client = grpcClient(server.grpcAddress);
    try {
      const rows = exp.mushroom.nan_rows;
      const response = await client.call<{
        outputs: { contents: { fp32_contents: number[] } | null }[];
        raw_output_contents: Buffer[];
      }>('ModelInfer', {
        model_name: 'mushroom-xgboost',
        inputs: [
          {
            name: 'predict',
            datatype: 'FP64',
            shape: [rows.length, 126],
            contents: { fp64_contents: rows.flat().map((v) => v ?? Number.NaN) },
          },
        ],
      });
      // Typed contents, or raw little-endian FP32 (the server's grpc_output_contents setting).
      const raw = response.raw_output_contents[0];
      const got =
        raw === undefined
          ? (response.outputs[0]?.contents?.fp32_contents ?? [])
          : Array.from(new Float32Array(new Uint8Array(raw).buffer));
      assert.ok(
        maxRelative(got, exp.mushroom.nan_predict) <= TOLERANCE,
        `grpc NaN: ${got.join(',')}`,
      );
    } finally {
      client.close();
    }
  });

  void it('iris-lgb: LightGBM multiclass, with the docs request and a PandasCodec dataframe', async () => {
    const cases: MlserverCase[] = [
      {
        id: 'docs',
        model: 'iris-lgb',
        version: 'v0.1.0',
        codec: 'raw',
        request: {
          inputs: [
            { name: 'predict-prob', shape: [1, 4], datatype: 'FP32', data: exp.iris.rows[0] },
          ],
        },
      },
      // Four named columns (pd): the runtime hands them to the model side by side.
      { id: 'pd', model: 'iris-lgb', codec: 'pd', columns: exp.iris.columns, rows: exp.iris.rows },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of answers(results, 'docs')) {
      const { shape, values } = numbers(output(r, 'predict'));
      assert.deepEqual(shape, [1, 3]);
      assert.ok(maxRelative(values, exp.iris.predict[0] ?? []) <= TOLERANCE);
    }
    for (const r of answers(results, 'pd')) {
      const { shape, values } = numbers(output(r, 'predict'));
      assert.deepEqual(shape, [exp.iris.rows.length, 3]);
      const deviation = maxRelative(values, exp.iris.predict.flat());
      assert.ok(deviation <= TOLERANCE, `pd over ${r.transport}: deviation ${deviation}`);
    }
  });

  void it('serves skl2onnx ZipMap classifiers: string labels and FP32 [N, classes] probabilities', async () => {
    const cases: MlserverCase[] = [
      {
        id: 'both',
        model: 'iris-strings',
        codec: 'np_request',
        array: exp.iris_strings.rows,
        dtype: 'float64',
        outputs: [{ name: 'predict' }, { name: 'predict_proba' }],
      },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of answers(results, 'both')) {
      const predict = output(r, 'predict');
      assert.equal(predict?.datatype, 'BYTES');
      assert.deepEqual(predict.decoded, exp.iris_strings.predict);
      const proba = numbers(output(r, 'predict_proba'));
      assert.deepEqual(proba.shape, [exp.iris_strings.rows.length, 3]);
      assert.ok(maxRelative(proba.values, exp.iris_strings.predict_proba.flat()) <= TOLERANCE);
    }
    // Served as `onnx`: ONNX names, the ZipMap output as a tensor whose metadata names the classes.
    const meta = (await (await fetch(`${server.httpUrl}/v2/models/iris-strings-onnx`)).json()) as {
      outputs: {
        name: string;
        datatype: string;
        shape: number[];
        parameters?: Record<string, string>;
      }[];
    };
    const probability = meta.outputs.find((o) => o.name === 'output_probability');
    assert.deepEqual(
      { datatype: probability?.datatype, shape: probability?.shape },
      { datatype: 'FP32', shape: [-1, 3] },
    );
    assert.deepEqual(
      JSON.parse(probability?.parameters?.['class_labels'] ?? '[]'),
      exp.iris_strings.classes,
    );
    const response = await fetch(`${server.httpUrl}/v2/models/iris-strings-onnx/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          { name: 'X', datatype: 'FP32', shape: [3, 4], data: exp.iris_strings.rows.flat() },
        ],
      }),
    });
    const body = (await response.json()) as {
      outputs: { name: string; parameters?: object; data: unknown[] }[];
    };
    assert.equal(response.status, 200, JSON.stringify(body));
    const byName = new Map(body.outputs.map((o) => [o.name, o]));
    assert.deepEqual(byName.get('output_label')?.data, exp.iris_strings.predict);
    assert.ok(
      maxRelative(
        byName.get('output_probability')?.data as number[],
        exp.iris_strings.predict_proba.flat(),
      ) <= TOLERANCE,
    );
    // Triton-style models carry no output parameters unless asked (the C++ client needs that).
    assert.equal(byName.get('output_label')?.parameters, undefined);
  });

  void it('string tensors: str, base64 and datetime in and out of an ONNX model', async () => {
    const words = exp.text.words;
    const cases: MlserverCase[] = [
      {
        id: 'str',
        model: 'text',
        codec: 'str_input',
        name: 'text',
        strings: words,
        outputs: [{ name: 'echo', content_type: 'str' }, { name: 'class_id' }],
      },
      {
        id: 'base64',
        model: 'text',
        codec: 'base64_input',
        name: 'text',
        texts: ['Python is fun'],
        outputs: [{ name: 'echo', content_type: 'base64' }],
      },
      {
        id: 'datetime',
        model: 'text',
        codec: 'datetime_input',
        name: 'text',
        values: ['2022-01-11T11:00:00'],
        outputs: [{ name: 'echo', content_type: 'datetime' }],
      },
      // Served as mlserver_sklearn: StringRequestCodec's `input-1` is taken as the model's input.
      { id: 'str-request', model: 'text-sk', codec: 'str_request', strings: words },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of answers(results, 'str')) {
      assert.deepEqual(output(r, 'echo')?.decoded, words);
      assert.equal(output(r, 'echo')?.content_type, 'str');
      assert.deepEqual([output(r, 'class_id')?.decoded].flat(), exp.text.class_id);
    }
    for (const r of answers(results, 'base64')) {
      assert.equal(output(r, 'echo')?.content_type, 'base64');
      assert.deepEqual(output(r, 'echo')?.decoded, [
        { hex: Buffer.from('Python is fun').toString('hex') },
      ]);
    }
    for (const r of answers(results, 'datetime')) {
      assert.deepEqual(output(r, 'echo')?.decoded, ['2022-01-11T11:00:00']);
    }
    for (const r of answers(results, 'str-request')) {
      assert.deepEqual(output(r, 'echo')?.decoded, words);
      assert.equal(output(r, 'echo')?.content_type, 'str', 'from model-settings.json outputs');
      assert.deepEqual(numbers(output(r, 'class_id')), {
        shape: [words.length, 1],
        values: exp.text.class_id,
      });
    }
  });

  void it('models served as onnx keep strict names; bad content gets a precise 400', async () => {
    const cases: MlserverCase[] = [
      { id: 'strict', model: 'text', codec: 'str_request', strings: ['setosa'] },
      {
        id: 'bad-date',
        model: 'text',
        codec: 'str_input',
        name: 'text',
        strings: ['noon'],
        outputs: [{ name: 'echo', content_type: 'datetime' }],
      },
    ];
    const results = await mlserverRequests(server, cases);
    for (const r of results.filter((x) => x.id === 'strict')) {
      assert.match(String(r.status), /^(400|INVALID_ARGUMENT)$/);
      assert.match(r.error ?? '', /unknown input 'input-1'; the model takes: text/);
    }
    for (const r of results.filter((x) => x.id === 'bad-date')) {
      assert.match(String(r.status), /^(400|INVALID_ARGUMENT)$/);
      assert.match(r.error ?? '', /output 'echo': element 0 is not an ISO 8601 date-time/);
    }
  });

  void it('a pickle-only scikit-learn folder is UNAVAILABLE with the conversion to run; the rest serve', async () => {
    const index = (await (
      await fetch(`${server.httpUrl}/v2/repository/index`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as { name: string; state: string; reason: string }[];
    const pickle = index.find((m) => m.name === 'pickle-only');
    assert.equal(pickle?.state, 'UNAVAILABLE');
    assert.match(
      pickle.reason,
      /model\.joblib is a Python pickle\/joblib file: a pickled scikit-learn model cannot run in Node/,
    );
    assert.match(pickle.reason, /skl2onnx/);
    assert.doesNotMatch(pickle.reason, new RegExp(dir.replaceAll('/', '\\/')));
    for (const name of [
      'mnist-svm',
      'mushroom-xgboost',
      'iris-lgb',
      'iris-strings',
      'text',
      'text-sk',
    ]) {
      assert.equal(index.find((m) => m.name === name)?.state, 'READY', name);
    }
  });

  void it('multi-model serving: mnist-svm and mushroom-xgboost at /versions/v0.1.0', async () => {
    const cases: MlserverCase[] = [
      {
        id: 'mnist',
        model: 'mnist-svm',
        version: 'v0.1.0',
        codec: 'raw',
        request: {
          inputs: [
            { name: 'predict', shape: [1, 64], datatype: 'FP32', data: exp.mms_mnist.rows[0] },
          ],
        },
      },
      {
        id: 'mushroom',
        model: 'mushroom-xgboost',
        version: 'v0.1.0',
        codec: 'np_request',
        array: exp.mms_mushroom.rows.slice(0, 3),
        dtype: 'float32',
      },
    ];
    const results = await mlserverRequests(mms, cases);
    for (const r of answers(results, 'mnist')) {
      assert.deepEqual(numbers(output(r, 'predict')).values, [8]);
    }
    for (const r of answers(results, 'mushroom')) {
      assert.equal(r.model_version, 'v0.1.0');
      assert.ok(
        maxRelative(numbers(output(r, 'predict')).values, exp.mms_mushroom.predict.slice(0, 3)) <=
          TOLERANCE,
      );
    }
    const index = (await (
      await fetch(`${mms.httpUrl}/v2/repository/index`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      })
    ).json()) as { name: string; version?: string; state: string }[];
    assert.deepEqual(index.map((m) => [m.name, m.version, m.state]).sort(), [
      ['mnist-svm', 'v0.1.0', 'READY'],
      ['mushroom-xgboost', 'v0.1.0', 'READY'],
    ]);
  });
});
