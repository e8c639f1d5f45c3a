import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeStatus,
  statusUpToDate,
  type StatusInput,
} from '../../../operator/src/reconcilers/inference-service/status.js';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import type { Observations } from '../../../operator/src/reconcilers/model-driver/replica-observation.js';

const NOW = '2026-11-25T10:00:00Z';
const LATER = '2026-11-25T11:00:00Z';

function deployment(
  status: Record<string, unknown> | undefined,
  generation = 2,
  replicas = 2,
): KubeObject {
  return {
    metadata: { name: 'iris-predictor', generation },
    spec: { replicas },
    ...(status === undefined ? {} : { status }),
  };
}

const available = {
  observedGeneration: 2,
  replicas: 2,
  readyReplicas: 2,
  availableReplicas: 2,
  conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
};

const URI = 's3://models/iris/';
const LOADED: Observations = [
  { pod: 'iris-predictor-a', state: 'Loaded', serving: URI },
  { pod: 'iris-predictor-b', state: 'Loaded', serving: URI },
];

function deployed(d: KubeObject | undefined, replicas: Observations | undefined = LOADED) {
  return { kind: 'deployed' as const, deployment: d, replicas, storageUri: URI };
}

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    generation: 7,
    previous: undefined,
    now: NOW,
    predictor: deployed(deployment(available)),
    url: 'http://iris-predictor.models.svc.cluster.local',
    selector: 'a=b',
    deploymentMode: 'Dedicated',
    runtime: { name: 'rt', kind: 'ClusterServingRuntime' },
    ...over,
  };
}

function cond(status: ReturnType<typeof computeStatus>, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

describe('computeStatus', () => {
  it('is Ready when the Deployment is available and a replica is ready', () => {
    const s = computeStatus(input());
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status, c.reason, c.observedGeneration]),
      [
        ['Ready', 'True', 'Ready', 7],
        ['PredictorReady', 'True', 'DeploymentAvailable', 7],
        ['ModelsReady', 'True', 'ModelsLoaded', 7],
      ],
    );
    assert.equal(s.observedGeneration, 7);
    assert.equal(s.url, 'http://iris-predictor.models.svc.cluster.local');
    assert.equal(s.replicas, 2);
    assert.deepEqual(s.modelStatus, {
      transitionStatus: 'UpToDate',
      loaded: '2/2',
      states: { activeModelState: 'Loaded', targetModelState: 'Loaded' },
      copies: { totalCopies: 2, failedCopies: 0 },
      replicas: [
        { pod: 'iris-predictor-a', state: 'Loaded', storageUri: URI },
        { pod: 'iris-predictor-b', state: 'Loaded', storageUri: URI },
      ],
    });
    assert.equal(cond(s, 'Ready')?.lastTransitionTime, NOW);
  });

  it('is not Ready while the Deployment is available but no server reports the model', () => {
    const s = computeStatus(
      input({
        predictor: deployed(deployment(available), [
          { pod: 'iris-predictor-a', state: 'Loading', reason: `loading ${URI}` },
          { pod: 'iris-predictor-b', state: 'Pending', reason: 'the pod is Pending' },
        ]),
      }),
    );
    assert.equal(cond(s, 'PredictorReady')?.status, 'True');
    assert.equal(cond(s, 'ModelsReady')?.status, 'False');
    assert.equal(cond(s, 'ModelsReady')?.reason, 'ModelLoading');
    assert.equal(cond(s, 'Ready')?.status, 'False');
    assert.equal(s.modelStatus?.loaded, '0/2');
    assert.equal(s.modelStatus.states.activeModelState, 'Loading');
    assert.equal(s.modelStatus.transitionStatus, 'InProgress');
  });

  it('is not Ready before the agents were observed at all', () => {
    const s = computeStatus(
      input({ predictor: { ...deployed(deployment(available)), replicas: undefined } }),
    );
    assert.equal(cond(s, 'ModelsReady')?.reason, 'ModelsNotObserved');
    assert.equal(cond(s, 'Ready')?.status, 'False');
  });

  it('reports a failed load with its reason, replica and time, and never counts it as a copy', () => {
    const s = computeStatus(
      input({
        predictor: deployed(deployment(available), [
          { pod: 'iris-predictor-a', state: 'Loaded', serving: URI },
          {
            pod: 'iris-predictor-b',
            state: 'FailedToLoad',
            reason: 'object s3://models/iris/model.onnx does not exist',
            failureTime: NOW,
          },
        ]),
      }),
    );
    assert.equal(s.modelStatus?.loaded, '1/2');
    assert.deepEqual(s.modelStatus.copies, { totalCopies: 1, failedCopies: 1 });
    assert.equal(s.modelStatus.transitionStatus, 'BlockedByFailedLoad');
    assert.deepEqual(s.modelStatus.lastFailureInfo, {
      reason: 'ModelLoadFailed',
      message: 'object s3://models/iris/model.onnx does not exist',
      location: 'iris-predictor-b',
      time: NOW,
    });
    assert.equal(cond(s, 'ModelsReady')?.status, 'True');
  });

  it('keeps the old version active while a failed update is the target', () => {
    const OLD = 's3://models/iris-v1/';
    const s = computeStatus(
      input({
        predictor: deployed(deployment({ ...available, replicas: 1 }, 2, 1), [
          { pod: 'iris-predictor-a', state: 'FailedToLoad', serving: OLD, reason: 'corrupt model' },
        ]),
      }),
    );
    assert.deepEqual(s.modelStatus?.states, {
      activeModelState: 'Loaded',
      targetModelState: 'FailedToLoad',
    });
    // Traffic is still served by the old version: Ready stays True, and says why it is not new.
    assert.equal(cond(s, 'ModelsReady')?.status, 'True');
    assert.equal(cond(s, 'ModelsReady')?.reason, 'ModelUpdateFailed');
    assert.match(cond(s, 'ModelsReady')?.message ?? '', /corrupt model/);
    assert.equal(s.modelStatus.transitionStatus, 'BlockedByFailedLoad');
    assert.equal(s.modelStatus.replicas?.[0]?.storageUri, OLD);
  });

  it('is not ready while the Deployment controller has not observed the latest generation', () => {
    const s = computeStatus(
      input({
        predictor: deployed(deployment({ ...available, observedGeneration: 1 })),
      }),
    );
    assert.equal(cond(s, 'PredictorReady')?.reason, 'DeploymentProgressing');
    assert.match(cond(s, 'PredictorReady')?.message ?? '', /observe generation 2 \(observed 1\)/);
    assert.equal(cond(s, 'Ready')?.status, 'False');
    assert.equal(cond(s, 'Ready')?.reason, 'DeploymentProgressing');
    assert.match(cond(s, 'Ready')?.message ?? '', /^PredictorReady: /);
  });

  it('names the failed load as the reason for Ready, not the pods it keeps unready', () => {
    const unavailable = {
      observedGeneration: 2,
      replicas: 1,
      readyReplicas: 0,
      availableReplicas: 0,
      conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }],
    };
    const s = computeStatus(
      input({
        predictor: deployed(deployment(unavailable, 2, 1), [
          {
            pod: 'iris-predictor-a',
            state: 'FailedToLoad',
            reason: 'access to s3://models/iris/ was denied (SignatureDoesNotMatch)',
            failureTime: NOW,
          },
        ]),
      }),
    );
    assert.equal(cond(s, 'PredictorReady')?.status, 'False');
    assert.equal(cond(s, 'ModelsReady')?.reason, 'FailedToLoad');
    assert.equal(cond(s, 'Ready')?.reason, 'FailedToLoad');
    assert.match(cond(s, 'Ready')?.message ?? '', /^ModelsReady: .*was denied/);
  });

  it('reports the Deployment condition when replicas are unavailable', () => {
    const d = deployment({
      observedGeneration: 2,
      replicas: 2,
      availableReplicas: 0,
      conditions: [
        {
          type: 'Available',
          status: 'False',
          reason: 'MinimumReplicasUnavailable',
          message: 'Deployment does not have minimum availability.',
        },
      ],
    });
    const s = computeStatus(input({ predictor: deployed(d, []) }));
    assert.equal(cond(s, 'PredictorReady')?.reason, 'MinimumReplicasUnavailable');
    assert.equal(
      cond(s, 'PredictorReady')?.message,
      'Deployment does not have minimum availability. (0/2 replicas available)',
    );
    assert.equal(cond(s, 'ModelsReady')?.reason, 'ModelsNotLoaded');
    assert.equal(s.modelStatus?.transitionStatus, 'InProgress');
    assert.equal(s.modelStatus.loaded, '0/2');
  });

  it('handles a Deployment that does not exist yet', () => {
    const s = computeStatus(input({ predictor: deployed(undefined, []) }));
    assert.equal(cond(s, 'PredictorReady')?.reason, 'DeploymentNotFound');
  });

  it('carries the blocking reason into every condition and lastFailureInfo', () => {
    const s = computeStatus(
      input({
        predictor: {
          kind: 'blocked',
          reason: 'NoSupportingRuntime',
          message: 'no runtime for onnx',
          transitionStatus: 'InvalidSpec',
        },
        url: undefined,
        runtime: undefined,
      }),
    );
    for (const type of ['Ready', 'PredictorReady', 'ModelsReady'])
      assert.equal(cond(s, type)?.reason, 'NoSupportingRuntime');
    assert.equal(s.modelStatus?.lastFailureInfo?.message, 'no runtime for onnx');
    assert.equal(s.modelStatus.transitionStatus, 'InvalidSpec');
    assert.equal(s.url, undefined);
    assert.equal(s.runtimeName, undefined);
  });

  it('keeps lastTransitionTime while a condition status does not change', () => {
    const first = computeStatus(input());
    const again = computeStatus(input({ previous: first, now: LATER }));
    assert.equal(cond(again, 'Ready')?.lastTransitionTime, NOW);
    const flipped = computeStatus(
      input({
        previous: first,
        now: LATER,
        predictor: deployed(undefined, []),
      }),
    );
    assert.equal(cond(flipped, 'Ready')?.lastTransitionTime, LATER);
  });

  it('records what each replica reports and the largest report, kept while none reports', () => {
    const Mi = 2 ** 20;
    const reporting: Observations = [
      { pod: 'iris-predictor-a', state: 'Loaded', serving: URI, memoryBytes: 400 * Mi },
      { pod: 'iris-predictor-b', state: 'Loaded', serving: URI, memoryBytes: 401 * Mi },
    ];
    const first = computeStatus(input({ predictor: deployed(deployment(available), reporting) }));
    assert.deepEqual(first.modelStatus?.reportedMemory, { bytes: 401 * Mi, storageUri: URI });
    assert.deepEqual(
      first.modelStatus?.replicas?.map((r) => r.memoryBytes),
      [400 * Mi, 401 * Mi],
    );
    // Pods restarting: no report now, the figure stays, so placement does not flap.
    const restarting = computeStatus(
      input({ previous: first, now: LATER, predictor: deployed(deployment(available), []) }),
    );
    assert.deepEqual(restarting.modelStatus?.reportedMemory, first.modelStatus?.reportedMemory);
    // Not placed any more (blocked): still kept for the same storage URI, dropped for another.
    const blocked = (storageUri: string) =>
      computeStatus(
        input({
          previous: first,
          storageUri,
          predictor: {
            kind: 'blocked',
            reason: 'NotPlaced',
            message: 'the pool is full',
            transitionStatus: 'InProgress',
          },
        }),
      );
    assert.deepEqual(blocked(URI).modelStatus?.reportedMemory, first.modelStatus?.reportedMemory);
    assert.equal(blocked('s3://models/iris-v2/').modelStatus?.reportedMemory, undefined);
    // The same reports again are the same status: no write at steady state.
    const again = computeStatus(
      input({ previous: first, now: LATER, predictor: deployed(deployment(available), reporting) }),
    );
    assert.ok(statusUpToDate(again, first));
  });
});

describe('statusUpToDate', () => {
  it('is true for the same status in another key order, so no write is sent', () => {
    const s = computeStatus(input());
    const reordered = JSON.parse(
      JSON.stringify({
        modelStatus: s.modelStatus,
        conditions: [...(s.conditions ?? [])].reverse(),
        ...s,
      }),
    ) as typeof s;
    assert.equal(statusUpToDate(s, reordered), true);
  });

  it('ignores conditions and fields written by other controllers', () => {
    const s = computeStatus(input());
    const live = {
      ...s,
      extra: 'x',
      conditions: [
        ...(s.conditions ?? []),
        {
          type: 'Other',
          status: 'True' as const,
          reason: 'X',
          message: '',
          lastTransitionTime: NOW,
        },
      ],
    };
    assert.equal(statusUpToDate(s, live), true);
  });

  it('is false when anything the operator writes differs or status is missing', () => {
    const s = computeStatus(input());
    assert.equal(statusUpToDate(s, undefined), false);
    assert.equal(statusUpToDate(s, { ...s, observedGeneration: 6 }), false);
    const notReady = computeStatus(input({ predictor: deployed(undefined, []) }));
    assert.equal(statusUpToDate(notReady, s), false);
  });
});
