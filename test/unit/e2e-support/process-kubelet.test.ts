// The pure parts of the e2e tier's process kubelet: image matching, `$(VAR)` references, mountPath
// rewriting and the kubelet's phase and condition rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imageRepository, serverImageRule } from '../../e2e/support/process-kubelet.js';
import { expandReferences } from '../../e2e/support/container-env.js';
import { pathRewriter } from '../../e2e/support/pod-volumes.js';
import { podConditions, podPhase, type ContainerView } from '../../e2e/support/pod-status.js';
import type { ContainerStatus } from '../../e2e/support/pod-types.js';

describe('process kubelet: images', () => {
  it('matches the server image by repository, whatever the registry, tag or digest', () => {
    assert.equal(
      imageRepository('registry.example:5000/tessera/server:0.1.0'),
      'registry.example:5000/tessera/server',
    );
    assert.equal(imageRepository('tessera/server@sha256:abc'), 'tessera/server');
    const rule = serverImageRule();
    assert.equal(rule.matches('tessera/server:0.1.0'), true);
    assert.equal(rule.matches('registry.example:5000/tessera/server'), true);
    assert.equal(rule.matches('tessera/server-debug:1'), false);
    assert.equal(rule.matches('busybox:1.36'), false);
    assert.deepEqual(rule.defaultArgs, ['start', '/mnt/models']);
  });
});

describe('process kubelet: environment references', () => {
  it('expands $(NAME) from earlier variables, keeps $$ and unknown names literal', () => {
    const env = new Map([['POD', 'p-1']]);
    assert.equal(expandReferences('/data/$(POD)/x', env), '/data/p-1/x');
    assert.equal(expandReferences('$$(POD) $(NOPE)', env), '$(POD) $(NOPE)');
  });
});

describe('process kubelet: mountPath rewriting', () => {
  const rewrite = pathRewriter(
    {
      name: 'c',
      volumeMounts: [
        { name: 'models', mountPath: '/mnt/models' },
        { name: 'creds', mountPath: '/mnt/models/creds/' },
      ],
    },
    {
      byName: new Map([
        ['models', '/tmp/m'],
        ['creds', '/tmp/c'],
      ]),
    },
  );

  it('rewrites values that start with a mountPath, the longest first', () => {
    assert.equal(rewrite('/mnt/models'), '/tmp/m');
    assert.equal(rewrite('/mnt/models/iris/model.onnx'), '/tmp/m/iris/model.onnx');
    assert.equal(rewrite('/mnt/models/creds/key'), '/tmp/c/key');
  });

  it('leaves other values alone, including look-alike prefixes', () => {
    assert.equal(rewrite('/mnt/models-old'), '/mnt/models-old');
    assert.equal(rewrite('start'), 'start');
  });

  it('refuses a mount of a volume the pod does not have', () => {
    assert.throws(
      () =>
        pathRewriter(
          { name: 'c', volumeMounts: [{ name: 'x', mountPath: '/x' }] },
          { byName: new Map() },
        ),
      /volumeMount "x" names no volume/,
    );
  });
});

function view(status: Partial<ContainerStatus>, willRestart = true): ContainerView {
  return {
    status: { name: 'c', image: 'i', imageID: '', ready: false, restartCount: 0, ...status },
    willRestart,
  };
}

describe('process kubelet: pod phase and conditions', () => {
  const spec = { containers: [], restartPolicy: 'Always' };

  it('is Pending until every container started once, Running while it restarts', () => {
    assert.equal(
      podPhase(spec, [view({ state: { waiting: { reason: 'ContainerCreating' } } })]),
      'Pending',
    );
    assert.equal(podPhase(spec, [view({ state: { running: {} } })]), 'Running');
    const backOff = view({
      state: { waiting: { reason: 'CrashLoopBackOff' } },
      lastState: { terminated: { exitCode: 2 } },
    });
    assert.equal(podPhase(spec, [backOff]), 'Running');
  });

  it('is Succeeded or Failed once no container will run again', () => {
    assert.equal(
      podPhase(spec, [view({ state: { terminated: { exitCode: 0 } } }, false)]),
      'Succeeded',
    );
    assert.equal(
      podPhase(spec, [
        view({ state: { terminated: { exitCode: 0 } } }, false),
        view({ state: { terminated: { exitCode: 1 } } }, false),
      ]),
      'Failed',
    );
  });

  it('keeps lastTransitionTime until a condition flips, and keeps PodScheduled as it is', () => {
    const scheduled = { type: 'PodScheduled', status: 'True', lastTransitionTime: 't0' };
    const notReady = podConditions([scheduled], [view({ ready: false })], [], 't1');
    assert.equal(notReady.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(
      notReady.find((c) => c.type === 'Ready')?.message,
      'containers with unready status: [c]',
    );
    const still = podConditions(notReady, [view({ ready: false })], [], 't2');
    assert.equal(still.find((c) => c.type === 'Ready')?.lastTransitionTime, 't1');
    const ready = podConditions(still, [view({ ready: true })], [], 't3');
    assert.equal(ready.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(ready.find((c) => c.type === 'Ready')?.lastTransitionTime, 't3');
    assert.deepEqual(
      ready.find((c) => c.type === 'PodScheduled'),
      scheduled,
    );
  });

  it('holds Ready back until every readiness gate is True', () => {
    const gated = podConditions([], [view({ ready: true })], ['example.com/gate'], 't1');
    assert.equal(gated.find((c) => c.type === 'Ready')?.reason, 'ReadinessGatesNotReady');
    const gate = { type: 'example.com/gate', status: 'True', lastTransitionTime: 't2' };
    const open = podConditions(
      [...gated, gate],
      [view({ ready: true })],
      ['example.com/gate'],
      't3',
    );
    assert.equal(open.find((c) => c.type === 'Ready')?.status, 'True');
  });
});
