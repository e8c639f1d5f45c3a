import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  declaredMemoryBytes,
  memoryExceededNote,
  reportedMemoryBytes,
  reportedMemoryOf,
  roundUpToGranule,
} from '../../../operator/src/reconcilers/model-memory.js';
import type { InferenceService } from '../../../operator/src/api/v1alpha1/index.js';

const Mi = 2 ** 20;
const URI = 'http://models/a/model.onnx';

function isvc(over: {
  memory?: string;
  limit?: string;
  storageUri?: string;
  reported?: { bytes: number; storageUri: string };
}): InferenceService {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'a', namespace: 'ns' },
    spec: {
      deploymentMode: 'Shared',
      predictor: {
        model: {
          modelFormat: { name: 'onnx' },
          ...('storageUri' in over ? { storageUri: over.storageUri } : { storageUri: URI }),
          resources: {
            ...(over.memory === undefined ? {} : { requests: { memory: over.memory } }),
            ...(over.limit === undefined ? {} : { limits: { memory: over.limit } }),
          },
        },
      },
    },
    ...(over.reported === undefined
      ? {}
      : {
          status: {
            modelStatus: {
              transitionStatus: 'UpToDate',
              loaded: '1/1',
              states: { activeModelState: 'Loaded', targetModelState: 'Loaded' },
              copies: { totalCopies: 1, failedCopies: 0 },
              reportedMemory: over.reported,
            },
          },
        }),
  };
}

describe('model memory', () => {
  it('rounds reports up to whole MiB, so small changes make no status write', () => {
    assert.equal(roundUpToGranule(0), 0);
    assert.equal(roundUpToGranule(1), Mi);
    assert.equal(roundUpToGranule(Mi), Mi);
    assert.equal(roundUpToGranule(400 * Mi + 17), 401 * Mi);
  });

  it('reads the declared memory from requests, else limits, else none', () => {
    assert.equal(declaredMemoryBytes(isvc({ memory: '16Mi', limit: '1Gi' })), 16 * Mi);
    assert.equal(declaredMemoryBytes(isvc({ limit: '1Gi' })), 1024 * Mi);
    assert.equal(declaredMemoryBytes(isvc({})), undefined);
  });

  it('uses a report only for the storage URI the spec asks for now', () => {
    assert.equal(
      reportedMemoryBytes(isvc({ reported: { bytes: 400 * Mi, storageUri: URI } })),
      400 * Mi,
    );
    assert.equal(
      reportedMemoryBytes(isvc({ reported: { bytes: 400 * Mi, storageUri: 'http://old' } })),
      undefined,
    );
    assert.equal(reportedMemoryBytes(isvc({})), undefined);
  });

  it('records the largest report, and keeps the last one while no replica reports', () => {
    assert.deepEqual(reportedMemoryOf([2 * Mi, undefined, 3 * Mi], URI, undefined), {
      bytes: 3 * Mi,
      storageUri: URI,
    });
    const previous = { bytes: 5 * Mi, storageUri: URI };
    assert.deepEqual(reportedMemoryOf([undefined], URI, previous), previous);
    // A fresh report replaces the old one, larger or smaller.
    assert.deepEqual(reportedMemoryOf([Mi], URI, previous), { bytes: Mi, storageUri: URI });
    // A new storage URI forgets the old model's size until the new one reports.
    assert.equal(reportedMemoryOf([], 'http://new', previous), undefined);
    assert.equal(reportedMemoryOf([Mi], undefined, previous), undefined);
  });

  it('notes the moment reported memory exceeds the declared, once', () => {
    const above = { bytes: 400 * Mi, storageUri: URI };
    const note = memoryExceededNote(16 * Mi, undefined, above);
    assert.match(note ?? '', /report 400 MiB for the model, more than the 16 MiB it declares/);
    assert.equal(memoryExceededNote(16 * Mi, above, above), undefined, 'not again while above');
    assert.equal(memoryExceededNote(512 * Mi, undefined, above), undefined, 'within the declared');
    assert.equal(memoryExceededNote(undefined, undefined, above), undefined, 'nothing declared');
    assert.ok(
      memoryExceededNote(16 * Mi, { bytes: Mi, storageUri: URI }, above),
      'crossing from below',
    );
  });
});
