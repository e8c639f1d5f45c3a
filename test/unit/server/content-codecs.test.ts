// MLServer's content types in core/codecs: request decoding (np, pd, str, base64, datetime, the
// [N] -> [N,1] rule, NaN) and output encoding and labelling, on in-memory requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRequest } from '../../../server/src/core/codecs/decode-request.js';
import { encodeOutputs } from '../../../server/src/core/codecs/encode-response.js';
import { requestedOutputNames } from '../../../server/src/core/request-validation.js';
import type { InstanceMetadata } from '../../../server/src/core/model-runtime.js';
import type {
  InferenceRequest,
  Parameters,
  RequestInput,
  Tensor,
} from '../../../server/src/core/types.js';

const mlserverModel: InstanceMetadata = {
  platform: 'xgboost',
  inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 3] }],
  outputs: [{ name: 'predict', datatype: 'FP32', shape: [-1, 1] }],
  mlserverInputs: true,
  defaultContentType: 'np',
};

const strictModel: InstanceMetadata = {
  platform: 'onnx_onnxv1',
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 1] },
    { name: 'text', datatype: 'BYTES', shape: [-1] },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
};

function input(
  name: string,
  datatype: string,
  shape: number[],
  value: unknown,
  parameters?: Parameters,
): RequestInput {
  return {
    name,
    datatype,
    shape,
    data: { kind: 'json', value },
    ...(parameters ? { parameters } : {}),
  };
}

const noSettings = { inputs: [] };

void describe('request decoding with content types', () => {
  void it('puts the columns of a pd request side by side, converting datatypes', () => {
    const request: InferenceRequest = {
      parameters: { content_type: 'pd' },
      inputs: [
        input('a', 'FP64', [2, 1], [1.5, 2.5]),
        input('b', 'INT64', [2, 1], [3, 4]),
        input('c', 'FP32', [2], [5, 6]),
      ],
    };
    const [frame] = decodeRequest(request, mlserverModel, noSettings);
    assert.equal(frame?.name, 'input-0');
    assert.equal(frame?.datatype, 'FP32');
    assert.deepEqual(frame?.shape, [2, 3]);
    assert.deepEqual(Array.from(frame?.data as Float32Array), [1.5, 3, 5, 2.5, 4, 6]);
  });

  void it('refuses dataframe columns of different lengths and BYTES columns for numeric models', () => {
    const ragged: InferenceRequest = {
      parameters: { content_type: 'pd' },
      inputs: [input('a', 'FP32', [2], [1, 2]), input('b', 'FP32', [1], [3])],
    };
    assert.throws(
      () => decodeRequest(ragged, mlserverModel, noSettings),
      /column 'b' has 1 rows, but column 'a' has 2/,
    );
    const text: InferenceRequest = {
      parameters: { content_type: 'pd' },
      inputs: [input('a', 'FP32', [1], [1]), input('name', 'BYTES', [1], ['x'])],
    };
    assert.throws(
      () => decodeRequest(text, mlserverModel, noSettings),
      /column 'name' is BYTES, but the model takes FP32 features/,
    );
  });

  void it('reads [N] as [N,1] for the np content type where the model takes rows', () => {
    const oneFeature: InstanceMetadata = {
      ...mlserverModel,
      inputs: [{ name: 'input-0', datatype: 'FP32', shape: [-1, 1] }],
    };
    const [tensor] = decodeRequest(
      { inputs: [input('predict', 'FP64', [3], [1, 2, 3])] },
      oneFeature,
      noSettings,
    );
    assert.deepEqual(tensor?.shape, [3, 1]);
    // Triton-style models see the shape as sent, unless the input says it is np.
    assert.throws(
      () =>
        decodeRequest(
          { inputs: [input('x', 'FP32', [2], [1, 2]), input('text', 'BYTES', [1], ['a'])] },
          strictModel,
          noSettings,
        ),
      /input 'x': shape \[2\] does not match the model's \[-1,1\]/,
    );
    const [x] = decodeRequest(
      {
        inputs: [
          input('x', 'FP32', [2], [1, 2], { content_type: 'np' }),
          input('text', 'BYTES', [1], ['a']),
        ],
      },
      strictModel,
      noSettings,
    );
    assert.deepEqual(x?.shape, [2, 1]);
  });

  void it('reads JSON null as NaN only under np or pd', () => {
    const [tensor] = decodeRequest(
      { inputs: [input('predict', 'FP32', [1, 3], [1, null, 3])] },
      mlserverModel,
      noSettings,
    );
    assert.ok(Number.isNaN((tensor?.data as Float32Array)[1]));
    assert.throws(
      () =>
        decodeRequest(
          { inputs: [input('x', 'FP32', [1, 1], [null]), input('text', 'BYTES', [1], ['a'])] },
          strictModel,
          noSettings,
        ),
      /input 'x': element 0 \(null\) is not a valid FP32 value/,
    );
  });

  void it('takes content types from model-settings.json when the request names none', () => {
    const settings = {
      inputs: [
        {
          name: 'text',
          datatype: 'BYTES' as const,
          shape: [-1],
          parameters: { content_type: 'base64' },
        },
      ],
    };
    const [, text] = decodeRequest(
      {
        inputs: [
          input('x', 'FP32', [1, 1], [1]),
          input('text', 'BYTES', [1], ['UHl0aG9uIGlzIGZ1bg==']),
        ],
      },
      strictModel,
      settings,
    );
    assert.equal(Buffer.from((text?.data as Uint8Array[])[0] ?? []).toString(), 'Python is fun');
    // The request's own content type wins over the model's metadata.
    const [, asText] = decodeRequest(
      {
        inputs: [
          input('x', 'FP32', [1, 1], [1]),
          input('text', 'BYTES', [1], ['UHl0aG9u'], { content_type: 'str' }),
        ],
      },
      strictModel,
      settings,
    );
    assert.equal(Buffer.from((asText?.data as Uint8Array[])[0] ?? []).toString(), 'UHl0aG9u');
  });

  void it('refuses bad base64, bad datetimes, non-UTF-8 str and unknown content types', () => {
    const one =
      (value: unknown, parameters: Parameters, datatype = 'BYTES') =>
      () =>
        decodeRequest(
          {
            inputs: [
              input('x', 'FP32', [1, 1], [1]),
              input('text', datatype, [1], value, parameters),
            ],
          },
          strictModel,
          noSettings,
        );
    assert.throws(
      one(['not base64!'], { content_type: 'base64' }),
      /element 0 is not valid base64/,
    );
    assert.throws(one(['yesterday'], { content_type: 'datetime' }), /is not an ISO 8601 date-time/);
    assert.doesNotThrow(one(['2022-01-11T11:00:00'], { content_type: 'datetime' }));
    assert.doesNotThrow(one(['2024-02-29T23:59:59.5+01:00'], { content_type: 'datetime' }));
    assert.doesNotThrow(one(['2022-01-11T11'], { content_type: 'datetime' }));
    assert.throws(one(['2022-02-30T00:00:00'], { content_type: 'datetime' }), /not an ISO 8601/);
    assert.throws(one(['2022-01-11T24:00:00'], { content_type: 'datetime' }), /not an ISO 8601/);
    assert.throws(
      one(['x'], { content_type: 'img' }),
      /unknown content type 'img'; known content types: np, pd, str, base64, datetime/,
    );
    assert.throws(
      one([1], { content_type: 'str' }, 'FP32'),
      /content type 'str' needs datatype BYTES, got FP32/,
    );
    const raw: RequestInput = {
      name: 'text',
      datatype: 'BYTES',
      shape: [1],
      parameters: { content_type: 'str' },
      data: { kind: 'list', values: [new Uint8Array([0xff, 0xfe])] },
    };
    assert.throws(
      () =>
        decodeRequest({ inputs: [input('x', 'FP32', [1, 1], [1]), raw] }, strictModel, noSettings),
      /element 0 is not UTF-8 text/,
    );
  });

  void it('takes one tensor of any name, and says so when given several', () => {
    assert.throws(
      () =>
        decodeRequest(
          {
            inputs: [input('a', 'FP32', [1, 3], [1, 2, 3]), input('b', 'FP32', [1, 3], [1, 2, 3])],
          },
          mlserverModel,
          noSettings,
        ),
      /the model takes one input, got 2 \('a', 'b'\); send one tensor, or the columns of a dataframe/,
    );
  });
});

void describe('output encoding with content types', () => {
  const predict: Tensor = {
    name: 'predict',
    datatype: 'FP32',
    shape: [2],
    data: new Float32Array([0.5, 0.25]),
  };
  const text: Tensor = {
    name: 'echo',
    datatype: 'BYTES',
    shape: [1],
    data: [new TextEncoder().encode('Python is fun')],
  };

  const NP = { defaultContentType: 'np' } as const;

  void it('labels outputs with the runtime default np and gives [N] a second dimension', () => {
    const [out] = encodeOutputs([predict], undefined, { outputs: [] }, NP);
    assert.deepEqual(out?.shape, [2, 1]);
    assert.deepEqual(out?.parameters, { content_type: 'np' });
  });

  void it('leaves outputs of Triton-style models unlabelled unless asked', () => {
    const [plain] = encodeOutputs([predict], undefined, { outputs: [] }, {});
    assert.equal(plain?.parameters, undefined);
    assert.deepEqual(plain?.shape, [2]);
    const [encoded] = encodeOutputs(
      [text],
      [{ name: 'echo', parameters: { content_type: 'base64' } }],
      { outputs: [] },
      {},
    );
    assert.equal(
      Buffer.from((encoded?.data as Uint8Array[])[0] ?? []).toString(),
      'UHl0aG9uIGlzIGZ1bg==',
    );
    assert.deepEqual(encoded?.parameters, { content_type: 'base64' });
  });

  void it('uses model-settings.json outputs and refuses a content type the output cannot have', () => {
    const settings = {
      outputs: [
        {
          name: 'echo',
          datatype: 'BYTES' as const,
          shape: [-1],
          parameters: { content_type: 'str' },
        },
      ],
    };
    const [out] = encodeOutputs([text], undefined, settings, NP);
    assert.deepEqual(out?.parameters, { content_type: 'str' });
    assert.throws(
      () =>
        encodeOutputs(
          [predict],
          [{ name: 'predict', parameters: { content_type: 'str' } }],
          { outputs: [] },
          NP,
        ),
      /output 'predict' is FP32; content type 'str' needs a BYTES output/,
    );
    assert.throws(
      () =>
        encodeOutputs(
          [predict],
          [{ name: 'predict', parameters: { content_type: 'pd' } }],
          { outputs: [] },
          NP,
        ),
      /content type 'pd' cannot be used here/,
    );
  });
});

void describe('runtimes that apply content types themselves', () => {
  // MLServer's Python runtimes decode and encode in the worker, with their own codecs.
  const pythonModel: InstanceMetadata = {
    platform: 'mlserver',
    inputs: [],
    outputs: [],
    appliesContentTypes: true,
  };

  void it('passes base64 and custom content types through undecoded', () => {
    const request: InferenceRequest = {
      parameters: { content_type: 'hg_jsonlist' },
      inputs: [
        input('b', 'BYTES', [1], ['aGk='], { content_type: 'base64' }),
        input('img', 'BYTES', [1], ['not-an-image'], { content_type: 'pil_image' }),
      ],
    };
    const [b, img] = decodeRequest(request, pythonModel, noSettings);
    assert.equal(Buffer.from((b?.data as Uint8Array[])[0] ?? []).toString(), 'aGk=');
    assert.deepEqual(b?.parameters, { content_type: 'base64' });
    assert.deepEqual(img?.parameters, { content_type: 'pil_image' });
  });

  void it('leaves the outputs as the runtime labelled them', () => {
    const out: Tensor = {
      name: 'o',
      datatype: 'BYTES',
      shape: [1],
      data: [new TextEncoder().encode('x')],
      parameters: { content_type: 'hg_json' },
    };
    const [same] = encodeOutputs(
      [out],
      [{ name: 'o', parameters: { content_type: 'base64' } }],
      { outputs: [] },
      pythonModel,
    );
    assert.equal(same, out);
  });
});

void describe('MLServer Python runtimes: the request as MLServer hands it over', () => {
  // MLflowRuntime's metadata from a column signature: double columns of shape [-1, 1], and the
  // output named output-0 although the runtime answers output-1.
  const mlflowModel: InstanceMetadata = {
    platform: '',
    inputs: [
      { name: 'a', datatype: 'FP64', shape: [-1, 1] },
      { name: 'b', datatype: 'FP64', shape: [-1, 1] },
    ],
    outputs: [{ name: 'output-0', datatype: 'INT64', shape: [-1] }],
    appliesContentTypes: true,
  };

  void it("passes datatypes and shapes the signature does not say (MLServer's MLflow example)", () => {
    const request: InferenceRequest = {
      inputs: [input('a', 'FP32', [1], [7.4]), input('b', 'FP64', [1], [0.7])],
    };
    const [a, b] = decodeRequest(request, mlflowModel, noSettings);
    assert.deepEqual([a?.datatype, a?.shape, b?.shape], ['FP32', [1], [1]]);
    assert.deepEqual(Array.from(b?.data as Float64Array), [0.7]);
  });

  void it('passes inputs the metadata does not list, and leaves out ones it lists', () => {
    // MLServer's NumpyRequestCodec names its tensor input-1; MLflow ignores extra columns.
    const request = { inputs: [input('input-1', 'FP64', [1], [1]), input('c', 'FP64', [1], [2])] };
    const names = decodeRequest(request, mlflowModel, noSettings).map((t) => t.name);
    assert.deepEqual(names, ['input-1', 'c']);
    const twice = { inputs: [input('a', 'FP64', [1], [1]), input('a', 'FP64', [1], [2])] };
    assert.throws(() => decodeRequest(twice, mlflowModel, noSettings), /appears more than once/);
  });

  void it('lets the runtime answer outputs its metadata does not list, refusing duplicates', () => {
    assert.deepEqual(requestedOutputNames([{ name: 'output-1' }], mlflowModel), ['output-1']);
    assert.throws(
      () => requestedOutputNames([{ name: 'output-1' }, { name: 'output-1' }], mlflowModel),
      /requested more than once/,
    );
    assert.throws(
      () =>
        requestedOutputNames([{ name: 'output-1' }], {
          ...mlflowModel,
          appliesContentTypes: false,
        }),
      /unknown output 'output-1'/,
    );
  });
});
