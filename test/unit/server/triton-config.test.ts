// Triton's model configuration (derive, parse, apply), load parameters and statistics counters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceStatistics } from '../../../server/src/core/inference-statistics.js';
import { FILE_LIMITS, parseLoadParameters } from '../../../server/src/core/load-parameters.js';
import {
  applyConfigOverride,
  deriveModelConfig,
  parseConfigOverride,
} from '../../../server/src/core/model-config.js';
import { withDefaults, type ModelSettings } from '../../../server/src/core/model-settings.js';
import { ServerError } from '../../../server/src/errors.js';

const SETTINGS: ModelSettings = withDefaults({
  name: 'm',
  implementation: 'onnx',
  uri: 'model.onnx',
  folder: '.',
  source: 'm/model-settings.json',
});
const TENSORS = {
  inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 4] }],
  outputs: [{ name: 'y', datatype: 'BYTES' as const, shape: [-1] }],
};
const ONNX = { platform: 'onnxruntime_onnx', backend: 'onnxruntime' };

function refused(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServerError);
    assert.equal(error.code, 'SRV_ERR_INVALID_INPUT');
    for (const m of mentions) assert.ok(error.message.includes(m), `${error.message} lacks ${m}`);
    return true;
  });
}

void describe('deriveModelConfig', () => {
  it('reports TYPE_* datatypes and the model dims when the model does not batch', () => {
    const config = deriveModelConfig('m', SETTINGS, TENSORS, ONNX, 2);
    assert.deepEqual(config.input, [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 4] }]);
    assert.deepEqual(config.output, [{ name: 'y', data_type: 'TYPE_STRING', dims: [-1] }]);
    assert.equal(config.max_batch_size, 0);
    assert.deepEqual(config.instance_group, [{ name: 'm', kind: 'KIND_CPU', count: 2 }]);
    assert.equal(config.dynamic_batching, undefined);
  });

  it('drops the batch dimension and reports dynamic batching when batching is configured', () => {
    const settings = { ...SETTINGS, maxBatchSize: 8, maxBatchTimeSeconds: 0.002 };
    const config = deriveModelConfig('m', settings, TENSORS, ONNX, 1);
    assert.deepEqual(config.input[0]?.dims, [4]);
    assert.deepEqual(config.output[0]?.dims, []);
    assert.deepEqual(config.dynamic_batching, { max_queue_delay_microseconds: 2000 });
  });
});

void describe('parseConfigOverride', () => {
  it('accepts numbers as decimal strings (protobuf JSON of 64-bit fields)', () => {
    const config = parseConfigOverride(
      'm',
      JSON.stringify({
        max_batch_size: '4',
        input: [{ name: 'x', data_type: 'TYPE_FP32', dims: ['4'] }],
      }),
    );
    const applied = applyConfigOverride(SETTINGS, config, undefined);
    assert.equal(applied.maxBatchSize, 4);
    assert.deepEqual(applied.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }]);
  });

  it('maps dynamic batching and the instance count onto settings', () => {
    const config = parseConfigOverride(
      'm',
      JSON.stringify({
        max_batch_size: 16,
        dynamic_batching: { max_queue_delay_microseconds: 500 },
        instance_group: [{ kind: 'KIND_CPU', count: 3 }],
      }),
    );
    const applied = applyConfigOverride(SETTINGS, config, 'onnx');
    assert.equal(applied.maxBatchTimeSeconds, 0.0005);
    assert.equal(applied.parallelWorkers, 3);
  });

  it('refuses unknown fields by name, at any depth', () => {
    refused(
      () => parseConfigOverride('m', '{"sequence_batching": {}}'),
      'sequence_batching',
      'not supported',
    );
    refused(
      () => parseConfigOverride('m', '{"instance_group": [{"gpus": [0]}]}'),
      'instance_group.0.gpus',
    );
  });

  it('refuses invalid values, other names and text that is not a JSON object', () => {
    refused(() => parseConfigOverride('m', '{"max_batch_size": -1}'), 'max_batch_size');
    refused(
      () => parseConfigOverride('m', '{"input": [{"name": "x", "data_type": "FP32"}]}'),
      'input.0.data_type',
    );
    refused(() => parseConfigOverride('m', '{"name": "other"}'), "name: 'other'");
    refused(() => parseConfigOverride('m', '[1]'), 'JSON object');
    refused(() => parseConfigOverride('m', 'nope'), 'not valid JSON');
    refused(
      () => parseConfigOverride('m', '{"default_model_filename": "../x.onnx"}'),
      'default_model_filename',
    );
  });
});

void describe('parseLoadParameters', () => {
  const config = { kind: 'string', value: '{"backend": "onnxruntime"}' } as const;
  const bytes = { kind: 'bytes', value: new Uint8Array([1, 2, 3]) } as const;

  it('groups files by version and decodes base64 text', () => {
    const parsed = parseLoadParameters('m', {
      config,
      'file:1/model.onnx': bytes,
      'file:2/sub/model.onnx': { kind: 'string', value: Buffer.from('abc').toString('base64') },
    });
    assert.deepEqual([...(parsed.files?.keys() ?? [])], ['1', '2']);
    assert.equal(Buffer.from(parsed.files?.get('2')?.[0]?.contents ?? []).toString(), 'abc');
    assert.equal(parsed.files?.get('2')?.[0]?.path, 'sub/model.onnx');
  });

  it('refuses paths that could leave the fresh folder', () => {
    for (const key of [
      'file:1/../x',
      'file:1/./x',
      'file:1/.hidden',
      'file:1/a\\b',
      'file:/etc/x',
      'file:1//x',
    ]) {
      refused(() => parseLoadParameters('m', { config, [key]: bytes }), 'file:');
    }
    refused(() => parseLoadParameters('m', { config, 'file:01/x': bytes }), 'positive integer');
    refused(
      () => parseLoadParameters('m', { config, 'file:1/a': bytes, 'file:1/a/b': bytes }),
      'both a file and a folder',
    );
  });

  it('bounds the number of files', () => {
    const many = Object.fromEntries(
      Array.from({ length: FILE_LIMITS.maxFiles + 1 }, (_, i) => [`file:1/f${i}`, bytes]),
    );
    refused(
      () => parseLoadParameters('m', { config, ...many }),
      `more than ${FILE_LIMITS.maxFiles}`,
    );
  });

  it('refuses unknown parameters, files without config and values of the wrong kind', () => {
    refused(() => parseLoadParameters('m', { confg: config }), "unknown parameter 'confg'");
    refused(() => parseLoadParameters('m', { 'file:1/x': bytes }), 'parameters.config');
    refused(() => parseLoadParameters('m', { config: { kind: 'bool', value: true } }), 'string');
    refused(
      () => parseLoadParameters('m', { config, 'file:1/x': { kind: 'string', value: '!!' } }),
      'not base64',
    );
    refused(
      () => parseLoadParameters('m', { config, 'file:1/x': { kind: 'int', value: 1 } }),
      'bytes_param',
    );
  });
});

void describe('InferenceStatistics', () => {
  it('counts successes, failures and batch sizes, with phase durations in ns', () => {
    const stats = new InferenceStatistics();
    stats.recordSuccess(4, 0, 1, 1, 3, 3.5);
    // Waited 0.25 ms for a worker thread: queue time, not compute.
    stats.recordSuccess(1, 10, 10.5, 10.75, 11, 11.25);
    stats.recordFailure(20, 22);
    const s = stats.snapshot('m', '1');
    assert.equal(s.inference_count, 5);
    assert.equal(s.execution_count, 2);
    assert.deepEqual(s.inference_stats.success, { count: 2, ns: 4_750_000 });
    assert.deepEqual(s.inference_stats.fail, { count: 1, ns: 2_000_000 });
    assert.deepEqual(s.inference_stats.compute_infer, { count: 2, ns: 2_250_000 });
    assert.deepEqual(s.inference_stats.queue, { count: 2, ns: 250_000 });
    assert.deepEqual(
      s.batch_stats.map((b) => [b.batch_size, b.compute_output.count]),
      [
        [1, 1],
        [4, 1],
      ],
    );
    assert.ok(s.last_inference > 0);
  });
});
