// MLServer's MLflow and CatBoost runtimes (mlserver_mlflow.MLflowRuntime,
// mlserver_catboost.CatboostModel) served unchanged by Tessera's Python worker AND by real
// MLServer 1.7.1 on the same folder (test/peers/mlserver-runtimes.peer.mjs), with the same
// requests: Tessera's REST answers equal MLServer's REST answers, its gRPC answers MLServer's gRPC
// ones, and so do its model metadata and what MLServer's own client codecs decode. The models are
// made in the test (test/peers/mlserver-runtimes/make_models.py): a scikit-learn estimator saved
// with mlflow.sklearn with a column signature (MLflow's runtime then reads requests with the
// pandas codec) and with a tensor signature, an mlflow.pyfunc model answering a DataFrame (string
// and float columns), and CatBoost classifiers with integer and string labels.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  grpcAnswer,
  plainParameters,
  type GrpcParameter,
  type GrpcReply,
} from '../../support/grpc-values.js';
import {
  mlserverRequests,
  mlserverRuntimesPython,
  type MlserverCase,
} from '../../support/mlserver-peer.js';
import {
  restAnswer,
  startSideBySide,
  type MlserverProcess,
  type SideBySide,
} from '../../support/mlserver-process.js';
import { lastJsonLine, runPython } from '../../support/python-peer.js';
import { REPO_ROOT, type ServerProcess } from '../../support/server-process.js';
import { postJson } from './lifecycle-helpers.js';

const MODELS = [
  'mlflow-columns',
  'mlflow-tensor',
  'mlflow-frame',
  'catboost-ints',
  'catboost-strings',
];

const STRING_LABELS = 'catboost-strings';

interface Made {
  mlflow: string;
  catboost: string;
  columns: string[];
  rows: number[][];
}

interface V2Input {
  name: string;
  datatype: 'FP64' | 'FP32';
  shape: number[];
  data: number[];
}

interface Case {
  id: string;
  model: string;
  inputs: V2Input[];
  parameters?: Record<string, string>;
  outputs?: { name: string }[];
}

/** One input per column of `rows` (a DataFrame's columns as MLServer's docs send them). */
function columnInputs(made: Made, shape: (n: number) => number[], datatype: V2Input['datatype']) {
  return made.columns.map((name, c) => ({
    name,
    datatype,
    shape: shape(made.rows.length),
    data: made.rows.map((row) => row[c] ?? Number.NaN),
  }));
}

function cases(made: Made): Case[] {
  const matrix = (datatype: V2Input['datatype']): V2Input[] => [
    { name: 'input-0', datatype, shape: [made.rows.length, 4], data: made.rows.flat() },
  ];
  return [
    // MLServer's MLflow example: columns of shape [N], FP32 where the signature says double.
    {
      id: 'columns-n-fp32',
      model: 'mlflow-columns',
      inputs: columnInputs(made, (n) => [n], 'FP32'),
    },
    {
      id: 'columns-n1-pd',
      model: 'mlflow-columns',
      inputs: columnInputs(made, (n) => [n, 1], 'FP64'),
      parameters: { content_type: 'pd' },
      // MLflowRuntime names its output output-1, its signature's metadata output-0.
      outputs: [{ name: 'output-1' }],
    },
    {
      // MLflow ignores a column its signature lacks (MLServer checks no names).
      id: 'columns-extra',
      model: 'mlflow-columns',
      inputs: [
        ...columnInputs(made, (n) => [n, 1], 'FP64'),
        {
          name: 'id',
          datatype: 'FP64',
          shape: [made.rows.length, 1],
          data: made.rows.map((_, i) => i),
        },
      ],
    },
    { id: 'tensor', model: 'mlflow-tensor', inputs: matrix('FP64') },
    { id: 'frame', model: 'mlflow-frame', inputs: columnInputs(made, (n) => [n, 1], 'FP64') },
    { id: 'catboost-ints', model: 'catboost-ints', inputs: matrix('FP64') },
    { id: 'catboost-ints-fp32', model: 'catboost-ints', inputs: matrix('FP32') },
    { id: 'catboost-strings', model: 'catboost-strings', inputs: matrix('FP64') },
  ];
}

interface GrpcTensorMetadata {
  name: string;
  datatype: string;
  shape: string[];
  parameters: Record<string, GrpcParameter>;
}

interface GrpcMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: GrpcTensorMetadata[];
  outputs: GrpcTensorMetadata[];
  parameters: Record<string, GrpcParameter>;
}

/** ModelMetadata with plain parameters and numeric shapes. */
function plainMetadata(meta: GrpcMetadata) {
  const tensor = (t: GrpcTensorMetadata) => ({
    ...t,
    shape: t.shape.map(Number),
    parameters: plainParameters(t.parameters),
  });
  return {
    ...meta,
    inputs: meta.inputs.map(tensor),
    outputs: meta.outputs.map(tensor),
    parameters: plainParameters(meta.parameters),
  };
}

function grpcRequest(c: Case): object {
  const param = (v: string) => ({ string_param: v });
  const params = (p?: Record<string, string>) =>
    Object.fromEntries(Object.entries(p ?? {}).map(([k, v]) => [k, param(v)]));
  return {
    model_name: c.model,
    parameters: params(c.parameters),
    inputs: c.inputs.map((i) => ({
      name: i.name,
      datatype: i.datatype,
      shape: i.shape,
      contents: { [i.datatype === 'FP64' ? 'fp64_contents' : 'fp32_contents']: i.data },
    })),
    outputs: c.outputs ?? [],
  };
}

describe('MLServer 1.7.1 MLflow and CatBoost runtimes: Tessera answers as MLServer does', () => {
  let root: string;
  let made: Made;
  let servers: SideBySide | undefined;
  let tessera: ServerProcess;
  let mlserver: MlserverProcess;
  let grpc: SideBySide['grpc'];

  before(async () => {
    const python = mlserverRuntimesPython();
    root = await mkdtemp(join(tmpdir(), 'tessera-mlserver-runtimes-'));
    const script = join(REPO_ROOT, 'test', 'peers', 'mlserver-runtimes', 'make_models.py');
    const run = await runPython([script, '--out', root], 300_000, undefined, python);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    made = lastJsonLine(run.stdout) as Made;
    servers = await startSideBySide({
      python,
      folder: root,
      models: MODELS,
      // mlflow in the worker makes ./mlruns (its default tracking store) in the server's folder.
      env: { MLFLOW_TRACKING_URI: `file://${root}/mlruns` },
      timeoutMs: 180_000,
    });
    ({ tessera, mlserver, grpc } = servers);
  });

  after(async () => {
    await servers?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers REST inference as MLServer does, for each model and request shape', async () => {
    assert.equal(made.mlflow, '2.22.5');
    for (const c of cases(made)) {
      const body = { inputs: c.inputs, parameters: c.parameters, outputs: c.outputs };
      const [ours, theirs] = await Promise.all([
        postJson(`${tessera.httpUrl}/v2/models/${c.model}/infer`, body),
        postJson(`${mlserver.httpUrl}/v2/models/${c.model}/infer`, body),
      ]);
      assert.equal(theirs.status, 200, `${c.id}: MLServer ${JSON.stringify(theirs.body)}`);
      assert.equal(ours.status, 200, `${c.id}: Tessera ${JSON.stringify(ours.body)}`);
      assert.deepEqual(restAnswer(ours.body), restAnswer(theirs.body), c.id);
    }
  });

  it('answers the pyfunc DataFrame with string and float columns, and string labels', async () => {
    const frame = await postJson(`${tessera.httpUrl}/v2/models/mlflow-frame/infer`, {
      inputs: columnInputs(made, (n) => [n, 1], 'FP64'),
    });
    const body = frame.body as { parameters: object; outputs: Record<string, unknown>[] };
    assert.deepEqual(body.parameters, { content_type: 'pd' });
    assert.deepEqual(
      body.outputs.map((o) => [o['name'], o['datatype'], o['parameters']]),
      [
        ['size', 'BYTES', { content_type: 'str' }],
        ['area', 'FP64', undefined],
      ],
    );
    assert.deepEqual(body.outputs[0]?.['data'], ['small', 'small', 'large', 'large']);
    const labels = await postJson(`${tessera.httpUrl}/v2/models/catboost-strings/infer`, {
      inputs: [
        { name: 'x', datatype: 'FP64', shape: [made.rows.length, 4], data: made.rows.flat() },
      ],
    });
    const [predict] = (labels.body as { outputs: Record<string, unknown>[] }).outputs;
    assert.equal(predict?.['datatype'], 'BYTES');
    assert.deepEqual(predict?.['data'], ['setosa', 'versicolor', 'virginica', 'virginica']);
  });

  it('answers gRPC ModelInfer as MLServer does', async () => {
    // String labels are the next test's: MLServer 1.7.1 cannot send them over gRPC.
    for (const c of cases(made).filter((k) => k.id !== STRING_LABELS)) {
      const [ours, theirs] = await Promise.all([
        grpc.tessera.call<GrpcReply>('ModelInfer', grpcRequest(c)),
        grpc.mlserver.call<GrpcReply>('ModelInfer', grpcRequest(c)),
      ]);
      assert.deepEqual(grpcAnswer(ours), grpcAnswer(theirs), c.id);
    }
  });

  it('answers string labels over gRPC, which MLServer 1.7.1 fails to encode', async () => {
    const c = cases(made).find((k) => k.id === STRING_LABELS)!;
    // MLServer's gRPC converter puts NumpyCodec's str elements into bytes_contents as they are.
    await assert.rejects(
      grpc.mlserver.call('ModelInfer', grpcRequest(c)),
      /expected bytes, str found/,
    );
    const ours = grpcAnswer(await grpc.tessera.call<GrpcReply>('ModelInfer', grpcRequest(c)));
    const rest = await postJson(`${mlserver.httpUrl}/v2/models/${c.model}/infer`, {
      inputs: c.inputs,
    });
    const theirs = (rest.body as { outputs: Record<string, unknown>[] }).outputs;
    assert.deepEqual(
      (ours as { outputs: unknown[] }).outputs,
      theirs.map((o) => ({
        name: o['name'],
        datatype: o['datatype'],
        shape: o['shape'],
        parameters: o['parameters'],
        values: o['data'],
      })),
    );
  });

  it("reports MLflow's signature in model metadata as MLServer does", async () => {
    for (const model of MODELS) {
      const metadata = async (httpUrl: string) =>
        (await (await fetch(`${httpUrl}/v2/models/${model}`)).json()) as Record<string, unknown>;
      const ours = await metadata(tessera.httpUrl);
      const theirs = await metadata(mlserver.httpUrl);
      const { runtime_path, python_class, mlserver_version, ...own } = ours['parameters'] as Record<
        string,
        unknown
      >;
      assert.deepEqual([runtime_path, mlserver_version], ['python', '1.7.1']);
      assert.match(
        String(python_class),
        /^mlserver_(mlflow\.MLflowRuntime|catboost\.CatboostModel)$/,
      );
      assert.deepEqual({ ...ours, parameters: own }, theirs, model);
      const [grpcOurs, grpcTheirs] = await Promise.all(
        [grpc.tessera, grpc.mlserver].map((c) =>
          c.call<GrpcMetadata>('ModelMetadata', { name: model }).then(plainMetadata),
        ),
      );
      const {
        runtime_path: _path,
        python_class: _class,
        mlserver_version: _v,
        ...grpcOwn
      } = grpcOurs!.parameters;
      assert.deepEqual({ ...grpcOurs, parameters: grpcOwn }, grpcTheirs, `${model} over gRPC`);
    }
  });

  it("decodes the same with MLServer's client codecs (pandas and NumPy requests)", async () => {
    const frameRows = made.rows;
    const mlserverCases: MlserverCase[] = [
      { id: 'pd', model: 'mlflow-columns', codec: 'pd', columns: made.columns, rows: frameRows },
      {
        id: 'pd-frame',
        model: 'mlflow-frame',
        codec: 'pd',
        columns: made.columns,
        rows: frameRows,
      },
      { id: 'np', model: 'mlflow-tensor', codec: 'np_request', array: frameRows, dtype: 'float64' },
      // REST only: MLServer 1.7.1 cannot send string labels over gRPC (tested above).
      {
        id: 'cb',
        model: 'catboost-strings',
        codec: 'np_request',
        array: frameRows,
        dtype: 'float64',
        transports: ['rest'],
      },
      {
        id: 'cb-ints',
        model: 'catboost-ints',
        codec: 'np_request',
        array: frameRows,
        dtype: 'float64',
      },
    ];
    const python = mlserverRuntimesPython();
    const [ours, theirs] = await Promise.all([
      mlserverRequests(tessera, mlserverCases, python),
      mlserverRequests(mlserver, mlserverCases, python),
    ]);
    assert.equal(ours.length, mlserverCases.length * 2 - 1);
    for (const result of theirs) assert.equal(result.error, undefined, JSON.stringify(result));
    assert.deepEqual(ours, theirs);
  });

  it("answers a missing column with MLflow's own message, as MLServer fails it", async () => {
    const inputs = columnInputs(made, (n) => [n, 1], 'FP64').slice(0, 3);
    const [ours, theirs] = await Promise.all(
      [tessera, mlserver].map((s) =>
        postJson(`${s.httpUrl}/v2/models/mlflow-columns/infer`, { inputs }),
      ),
    );
    // MLServer answers 500 with a traceback; Tessera 500 with the message alone.
    assert.equal(theirs!.status, 500);
    assert.equal(ours!.status, 500);
    const error = (ours!.body as { error: string }).error;
    assert.match(error, /MlflowException: .*Model is missing inputs \['petal_width'\]/s);
    assert.doesNotMatch(error, /Traceback|site-packages/);
  });

  // MLflowRuntime's custom REST handlers, mounted at the server root as MLServer mounts them:
  // MLflow's scoring protocol on /invocations and its /ping, /health and /version. These tests
  // change which models are loaded, so they come last. Of several MLflow models the one loaded
  // first answers /invocations (in both servers), so the others are unloaded first.
  describe("MLflow's scoring routes (MLServer's custom handlers)", () => {
    const servers = (): [string, string] => [tessera.httpUrl, mlserver.httpUrl];

    async function repository(action: 'load' | 'unload', model: string): Promise<void> {
      for (const url of servers()) {
        const response = await fetch(`${url}/v2/repository/models/${model}/${action}`, {
          method: 'POST',
        });
        assert.equal(
          response.status,
          200,
          `${action} ${model} on ${url}: ${await response.text()}`,
        );
      }
    }

    /** Both servers' answers to one request: status, content type and body text. */
    async function both(path: string, init: RequestInit = {}) {
      return Promise.all(
        servers().map(async (url) => {
          const response = await fetch(`${url}${path}`, init);
          return {
            status: response.status,
            type: response.headers.get('content-type'),
            body: await response.text(),
          };
        }),
      );
    }

    const post = (type: string, body: string): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });

    before(async () => {
      await repository('unload', 'mlflow-tensor');
      await repository('unload', 'mlflow-frame');
    });

    it('answers MLflow scoring requests on /invocations as MLServer does', async () => {
      const records = made.rows.map((row) =>
        Object.fromEntries(made.columns.map((c, i) => [c, row[i]])),
      );
      const csv = [made.columns.join(','), ...made.rows.map((r) => r.join(','))].join('\n');
      const requests: [string, RequestInit][] = [
        [
          'split',
          post(
            'application/json',
            JSON.stringify({ dataframe_split: { columns: made.columns, data: made.rows } }),
          ),
        ],
        ['records', post('application/json', JSON.stringify({ dataframe_records: records }))],
        ['csv', post('text/csv', csv)],
        [
          'charset',
          post('application/json; charset=utf-8', JSON.stringify({ dataframe_records: records })),
        ],
        // MLflow's own refusals, raised as MLServer's InferenceError (400 {"error": ...}).
        ['latin-1', post('application/json; charset=latin-1', '{}')],
        ['content-type', post('text/plain', 'x')],
        ['parameter', post('application/json; format=pandas-split', '{}')],
        ['missing-column', post('text/csv', 'sepal_length\n5.1')],
      ];
      for (const [id, init] of requests) {
        const [ours, theirs] = await both('/invocations', init);
        assert.deepEqual(ours, theirs, id);
        if (['split', 'records', 'csv', 'charset'].includes(id)) {
          assert.equal(ours!.status, 200, `${id}: ${ours!.body}`);
          const { predictions } = JSON.parse(ours!.body) as { predictions: number[] };
          assert.equal(predictions.length, made.rows.length, id);
        } else {
          assert.equal(ours!.status, 400, `${id}: ${ours!.body}`);
          assert.doesNotMatch(ours!.body, /Traceback|site-packages/, id);
        }
      }
    });

    it("answers MLflow's /ping, /health and /version as MLServer does", async () => {
      for (const path of ['/ping', '/health', '/version']) {
        const [ours, theirs] = await both(path);
        assert.deepEqual(ours, theirs, path);
        assert.equal(ours!.status, 200, path);
      }
      const [version] = await both('/version');
      assert.equal(JSON.parse(version!.body), made.mlflow);
    });

    it('keeps /invocations with the model loaded first, and hands it on when that one unloads', async () => {
      const split = post(
        'application/json',
        JSON.stringify({ dataframe_split: { columns: made.columns, data: made.rows } }),
      );
      const [first] = await both('/invocations', split);
      await repository('load', 'mlflow-tensor');
      const [still] = await both('/invocations', split);
      assert.deepEqual(still, first, 'mlflow-columns, loaded first, still answers');
      await repository('unload', 'mlflow-columns');
      // The tensor model reads MLflow's "inputs" (a tensor signature), not a column split.
      const [ours, theirs] = await both(
        '/invocations',
        post('application/json', JSON.stringify({ inputs: made.rows })),
      );
      assert.deepEqual(ours, theirs);
      assert.equal(ours!.status, 200, ours!.body);
      await repository('unload', 'mlflow-tensor');
      const gone = await fetch(`${tessera.httpUrl}/invocations`, split);
      assert.equal(gone.status, 404);
      assert.deepEqual(await gone.json(), { error: 'no route for POST /invocations' });
    });

    it('counts custom routes in the REST metrics under their own path', async () => {
      await repository('load', 'mlflow-columns');
      const [ours] = await both('/ping');
      assert.equal(ours!.status, 200);
      const metrics = await (await fetch(`${tessera.metricsUrl}/metrics`)).text();
      assert.match(
        metrics,
        /tessera_rest_requests_total\{method="GET",route="\/ping",status_code="200"\} [1-9]/,
      );
    });
  });
});
