// ONNX session options from parameters.extra, parsed with zod at load time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServerError } from '../../../server/src/errors.js';
import { sessionOptions } from '../../../server/src/runtime/onnx-session-options.js';

const source = 'm/model-settings.json';

void describe('ONNX session options', () => {
  void it('maps parameters.extra to onnxruntime options', () => {
    assert.deepEqual(
      sessionOptions(
        {
          source,
          extra: {
            intra_op_threads: 2,
            inter_op_threads: 1,
            graph_optimization_level: 'basic',
            execution_mode: 'parallel',
            other_runtime_key: true,
          },
        },
        1,
      ),
      {
        graphOptimizationLevel: 'basic',
        executionMode: 'parallel',
        intraOpNumThreads: 2,
        interOpNumThreads: 1,
      },
    );
    assert.deepEqual(sessionOptions({ source, extra: {} }, 1), {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
  });

  void it('fails the load naming the field and the reason', () => {
    assert.throws(
      () => sessionOptions({ source, extra: { graph_optimization_level: 'max' } }, 1),
      (error: unknown) =>
        error instanceof ServerError &&
        error.code === ErrorCode.MODEL_LOAD_FAILED &&
        error.message.startsWith(`${source}: parameters.extra: graph_optimization_level:`) &&
        error.message.includes('"disabled"'),
    );
    assert.throws(
      () => sessionOptions({ source, extra: { intra_op_threads: 1.5 } }, 1),
      /parameters\.extra: intra_op_threads: /,
    );
  });
});
