import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectRuntime } from '../../../operator/src/reconcilers/inference-service/runtime-selection.js';
import { isvc, runtime } from './fixtures.js';

function pick(result: ReturnType<typeof selectRuntime>): string {
  return result.kind === 'selected'
    ? `${result.runtime.kind}/${result.runtime.metadata.name}`
    : `none:${result.reason}`;
}

describe('selectRuntime', () => {
  it('prefers a namespace runtime over a cluster runtime, even with a lower priority', () => {
    const result = selectRuntime(
      isvc(),
      [runtime('ns-rt', { priority: 1 })],
      [runtime('cluster-rt', { cluster: true, priority: 9 })],
    );
    assert.equal(pick(result), 'ServingRuntime/ns-rt');
  });

  it('falls back to a cluster runtime when no namespace runtime fits', () => {
    const result = selectRuntime(
      isvc(),
      [runtime('sk', { format: 'sklearn' })],
      [runtime('onnx', { cluster: true })],
    );
    assert.equal(pick(result), 'ClusterServingRuntime/onnx');
  });

  it('ranks by priority, then a runtime with a priority beats one without, then newest, then name', () => {
    const a = runtime('a', { cluster: true, priority: 1 });
    const b = runtime('b', { cluster: true, priority: 5 });
    const c = runtime('c', { cluster: true });
    assert.equal(pick(selectRuntime(isvc(), [], [a, b, c])), 'ClusterServingRuntime/b');
    assert.equal(pick(selectRuntime(isvc(), [], [c, a])), 'ClusterServingRuntime/a');
    const old = runtime('old', { cluster: true, created: '2025-01-01T00:00:00Z' });
    const young = runtime('young', { cluster: true, created: '2026-06-01T00:00:00Z' });
    assert.equal(pick(selectRuntime(isvc(), [], [old, young])), 'ClusterServingRuntime/young');
    const x = runtime('x', { cluster: true });
    const y = runtime('y', { cluster: true });
    assert.equal(pick(selectRuntime(isvc(), [], [y, x])), 'ClusterServingRuntime/x');
  });

  it('ignores runtimes without autoSelect, disabled ones, and protocol or mode mismatches', () => {
    const noAuto = runtime('no-auto', { autoSelect: false });
    const disabled = runtime('disabled', { disabled: true });
    const v1Only = runtime('v1', { protocolVersions: ['v1'] });
    const multi = runtime('multi', { multiModel: true });
    const result = selectRuntime(isvc(), [noAuto, disabled, v1Only, multi], []);
    if (result.kind !== 'none') assert.fail('expected no runtime');
    {
      assert.equal(result.reason, 'NoSupportingRuntime');
      assert.match(
        result.message,
        /supports model format onnx with protocol v2 and autoSelect: true/,
      );
    }
  });

  it('matches format names case-insensitively and respects a requested version', () => {
    const v1 = runtime('v1', {
      supportedModelFormats: [{ name: 'ONNX', version: '1', autoSelect: true }],
    });
    const wanted = isvc({ model: { modelFormat: { name: 'onnx', version: '2' } } });
    assert.equal(pick(selectRuntime(wanted, [v1], [])), 'none:NoSupportingRuntime');
    const wants1 = isvc({ model: { modelFormat: { name: 'onnx', version: '1' } } });
    assert.equal(pick(selectRuntime(wants1, [v1], [])), 'ServingRuntime/v1');
  });

  it('uses a pinned runtime even without autoSelect, namespace before cluster', () => {
    const pinned = isvc({ model: { modelFormat: { name: 'onnx' }, runtime: 'rt' } });
    const ns = runtime('rt', { autoSelect: false });
    const cl = runtime('rt', { cluster: true });
    assert.equal(pick(selectRuntime(pinned, [ns], [cl])), 'ServingRuntime/rt');
    assert.equal(pick(selectRuntime(pinned, [], [cl])), 'ClusterServingRuntime/rt');
  });

  it('explains why a pinned runtime cannot be used', () => {
    const pinned = isvc({ model: { modelFormat: { name: 'onnx' }, runtime: 'rt' } });
    assert.equal(pick(selectRuntime(pinned, [], [])), 'none:RuntimeNotFound');
    assert.equal(
      pick(selectRuntime(pinned, [runtime('rt', { disabled: true })], [])),
      'none:RuntimeDisabled',
    );
    const wrong = selectRuntime(pinned, [runtime('rt', { format: 'sklearn' })], []);
    assert.equal(pick(wrong), 'none:RuntimeNotRecognized');
    if (wrong.kind === 'none')
      assert.equal(wrong.message, 'ServingRuntime rt does not support model format onnx');
  });

  it('selects multiModel runtimes only for deploymentMode Shared', () => {
    const shared = isvc();
    shared.spec.deploymentMode = 'Shared';
    assert.equal(
      pick(selectRuntime(shared, [runtime('single'), runtime('multi', { multiModel: true })], [])),
      'ServingRuntime/multi',
    );
  });

  it('matches a requested version only to an entry of that version, and no version to any (KServe mt: labels)', () => {
    const unversioned = runtime('any', {
      supportedModelFormats: [{ name: 'onnx', autoSelect: true }],
    });
    const v1 = runtime('v1', {
      supportedModelFormats: [{ name: 'onnx', version: '1', autoSelect: true }],
    });
    const wants1 = isvc({ model: { modelFormat: { name: 'onnx', version: '1' } } });
    // An entry without a version does not serve a model that asks for one.
    assert.equal(pick(selectRuntime(wants1, [unversioned], [])), 'none:NoSupportingRuntime');
    assert.equal(pick(selectRuntime(wants1, [unversioned, v1], [])), 'ServingRuntime/v1');
    assert.equal(pick(selectRuntime(isvc(), [v1], [])), 'ServingRuntime/v1');
  });

  it('counts only the auto-selectable entries of a runtime, and their priority', () => {
    const mixed = runtime('mixed', {
      supportedModelFormats: [
        { name: 'onnx', version: '1', autoSelect: false, priority: 9 },
        { name: 'onnx', version: '2', autoSelect: true, priority: 1 },
      ],
    });
    const other = runtime('other', {
      supportedModelFormats: [{ name: 'onnx', version: '2', autoSelect: true, priority: 2 }],
    });
    const wants1 = isvc({ model: { modelFormat: { name: 'onnx', version: '1' } } });
    assert.equal(pick(selectRuntime(wants1, [mixed], [])), 'none:NoSupportingRuntime');
    // The non-auto entry's priority 9 does not count: other's 2 beats mixed's 1.
    assert.equal(pick(selectRuntime(isvc(), [mixed, other], [])), 'ServingRuntime/other');
    const pinned = isvc({
      model: { modelFormat: { name: 'onnx', version: '1' }, runtime: 'mixed' },
    });
    assert.equal(pick(selectRuntime(pinned, [mixed], [])), 'ServingRuntime/mixed');
  });

  it('among equal priorities ranks by protocol (v1 first, as KServe), then newest', () => {
    const v2 = runtime('v2-only', { protocolVersions: ['v2'], created: '2026-06-01T00:00:00Z' });
    const both = runtime('both', {
      protocolVersions: ['v1', 'v2'],
      created: '2025-01-01T00:00:00Z',
    });
    assert.equal(pick(selectRuntime(isvc(), [v2, both], [])), 'ServingRuntime/both');
    const top = runtime('top', { protocolVersions: ['v2'], priority: 3 });
    assert.equal(pick(selectRuntime(isvc(), [both, top], [])), 'ServingRuntime/top');
  });

  it('never selects a multi-node runtime (workerSpec), and says so when it is pinned', () => {
    const multinode = runtime('ray', { workerSpec: { containers: [] } });
    assert.equal(pick(selectRuntime(isvc(), [multinode], [])), 'none:NoSupportingRuntime');
    const pinned = isvc({ model: { modelFormat: { name: 'onnx' }, runtime: 'ray' } });
    const result = selectRuntime(pinned, [multinode], []);
    assert.equal(pick(result), 'none:RuntimeNotRecognized');
    if (result.kind === 'none') assert.match(result.message, /multi-node runtime \(workerSpec\)/);
  });

  it('refuses the chosen runtime when it asks for what Pod Security restricted forbids, naming the field', () => {
    const privileged = runtime('root-server', {
      cluster: true,
      priority: 5,
      containers: [
        { name: 'kserve-container', securityContext: { privileged: true, runAsUser: 0 } },
      ],
      volumes: [{ name: 'host', hostPath: { path: '/var/lib/models' } }],
    });
    const result = selectRuntime(isvc(), [], [privileged, runtime('fine', { cluster: true })]);
    if (result.kind !== 'none') assert.fail('a refused runtime must not be used');
    assert.equal(result.reason, 'PrivilegedNotAllowed');
    assert.match(
      result.message,
      /^ClusterServingRuntime root-server: spec\.containers\[0\]\.securityContext\.privileged is true; Pod Security "restricted" forbids it/,
    );
    assert.match(result.message, /spec\.containers\[0\]\.securityContext\.runAsUser is 0/);
    assert.match(
      result.message,
      /spec\.volumes\[0\]\.hostPath \(volume host\) is a hostPath volume/,
    );
  });
});
