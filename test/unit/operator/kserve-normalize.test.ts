import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  inferenceServiceSpecSchema,
  LEGACY_FRAMEWORKS,
  normalizeInferenceServiceSpec,
} from '../../../operator/src/api/v1alpha1/index.js';
import { buildDeployment, withRuntimeVersion } from '../../../operator/src/manifests/deployment.js';
import { assertGolden } from '../../support/golden.js';
import { isvc, manifestConfig, runtime } from './fixtures.js';

const reasons = (spec: unknown): string[] =>
  normalizeInferenceServiceSpec(spec).unsupported.map((u) => u.reason);

describe('KServe v1beta1 spec normalisation', () => {
  it('turns every legacy predictor.<framework> into model.modelFormat, keeping its fields', () => {
    for (const [key, format] of Object.entries(LEGACY_FRAMEWORKS)) {
      const { spec, unsupported } = normalizeInferenceServiceSpec({
        predictor: {
          [key]: {
            storageUri: 's3://models/x',
            runtimeVersion: '1.2.3',
            resources: { limits: { cpu: '1' } },
            args: ['--a'],
          },
        },
      });
      assert.deepEqual(unsupported, [], key);
      const parsed = inferenceServiceSpecSchema.parse(spec);
      assert.deepEqual(parsed.predictor.model, {
        modelFormat: { name: format },
        storageUri: 's3://models/x',
        runtimeVersion: '1.2.3',
        resources: { limits: { cpu: '1' } },
        args: ['--a'],
      });
      assert.equal((parsed.predictor as Record<string, unknown>)[key], undefined);
    }
  });

  it('keeps a canonical spec unchanged and maps KServe scale metric names', () => {
    const canonical = {
      predictor: { model: { modelFormat: { name: 'onnx' }, storageUri: 'gs://b/m' } },
    };
    assert.deepEqual(normalizeInferenceServiceSpec(canonical), {
      spec: canonical,
      unsupported: [],
    });
    const { spec } = normalizeInferenceServiceSpec({
      predictor: { ...canonical.predictor, maxReplicas: 3, scaleMetric: 'concurrency' },
    });
    assert.equal(inferenceServiceSpecSchema.parse(spec).predictor.scaleMetric, 'inFlight');
    const rps = normalizeInferenceServiceSpec({
      predictor: { ...canonical.predictor, maxReplicas: 3, scaleMetric: 'rps' },
    });
    assert.equal(inferenceServiceSpecSchema.parse(rps.spec).predictor.scaleMetric, 'requestRate');
  });

  it('accepts the pod-level fields and parses them', () => {
    const { spec, unsupported } = normalizeInferenceServiceSpec({
      predictor: {
        serviceAccountName: 'sa',
        nodeSelector: { pool: 'cpu' },
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: { nodeAffinity: {} },
        imagePullSecrets: [{ name: 'pull' }],
        annotations: { a: 'b' },
        labels: { team: 'ml' },
        deploymentStrategy: { type: 'Recreate' },
        sklearn: {
          storageUri: 'pvc://claim/model',
          env: [{ name: 'OMP_NUM_THREADS', value: '1' }],
        },
      },
    });
    assert.deepEqual(unsupported, []);
    const p = inferenceServiceSpecSchema.parse(spec).predictor;
    assert.equal(p.serviceAccountName, 'sa');
    assert.deepEqual(p.tolerations, [{ key: 'k', operator: 'Exists', effect: 'NoSchedule' }]);
    assert.deepEqual(p.model.env, [{ name: 'OMP_NUM_THREADS', value: '1' }]);
  });

  it('reports, never drops, what Tessera cannot do, each with a message that says why', () => {
    const cases: [unknown, string, RegExp][] = [
      [
        { predictor: { sklearn: {} }, transformer: { containers: [] } },
        'TransformerNotSupported',
        /spec\.transformer: Tessera runs no transformer/,
      ],
      [{ predictor: { sklearn: {} }, explainer: {} }, 'ExplainerNotSupported', /spec\.explainer/],
      [
        { predictor: { minReplicas: 0, sklearn: {} } },
        'ScaleToZeroNotSupported',
        /does not scale to zero/,
      ],
      [
        { predictor: { containers: [{ name: 'c', image: 'x' }] } },
        'CustomContainerNotSupported',
        /custom predictor container/,
      ],
      [
        { predictor: { onnx: { storageUri: 'oci://reg/m:1' } } },
        'StorageSchemeNotSupported',
        /the scheme oci:\/\/, which Tessera's agent cannot download from/,
      ],
      [
        { predictor: { onnx: { storageUri: 'hf://org/m' } } },
        'StorageSchemeNotSupported',
        /hf:\/\//,
      ],
      [
        { predictor: { onnx: { env: [{ name: 'TESSERA_REQUIRED_MODELS', value: '[]' }] } } },
        'ReservedEnvName',
        /sets TESSERA_REQUIRED_MODELS/,
      ],
      [
        { predictor: { onnx: { securityContext: { privileged: true } } } },
        'PrivilegedNotAllowed',
        /restricted/,
      ],
      [
        { predictor: { onnx: { securityContext: { capabilities: { add: ['NET_ADMIN'] } } } } },
        'PrivilegedNotAllowed',
        /capabilities/,
      ],
      [
        { predictor: { pytorch: { protocolVersion: 'v1' } } },
        'ProtocolNotSupported',
        /protocolVersion is v1: Tessera serves only the V2/,
      ],
      [
        { predictor: { pytorch: { ports: [{ containerPort: 7070 }] } } },
        'PortNotConfigurable',
        /port 7070/,
      ],
      [{ predictor: { sklearn: {}, onnx: {} } }, 'AmbiguousPredictor', /sklearn, onnx/],
      [
        { predictor: { logger: { mode: 'all' }, sklearn: {} } },
        'FieldNotSupported',
        /predictor\.logger is a field Tessera does not implement/,
      ],
      [{ predictor: { sklearn: {} }, nodeName: 'n1' }, 'FieldNotSupported', /spec\.nodeName/],
      [{ predictor: { sklearn: { image: 'x' } } }, 'FieldNotSupported', /predictor\.model\.image/],
      [{ predictor: {} }, 'FieldNotSupported', /predictor names no model/],
      [
        { deploymentMode: 'Shared', predictor: { nodeSelector: { a: 'b' }, onnx: {} } },
        'PodFieldsInSharedMode',
        /pool shard/,
      ],
    ];
    for (const [spec, reason, message] of cases) {
      const { unsupported } = normalizeInferenceServiceSpec(spec);
      const hit = unsupported.find((u) => u.reason === reason);
      assert.ok(
        hit,
        `${JSON.stringify(spec)}: expected ${reason}, got ${JSON.stringify(unsupported)}`,
      );
      assert.match(hit.message, message);
    }
    // V2 over REST and gRPC, and Tessera's own ports, are fine.
    assert.deepEqual(
      reasons({
        predictor: { onnx: { protocolVersion: 'grpc-v2', ports: [{ containerPort: 8081 }] } },
      }),
      [],
    );
  });

  it('reads the deprecated predictor.serviceAccount as serviceAccountName, as a PodSpec does', () => {
    const { spec, unsupported } = normalizeInferenceServiceSpec({
      predictor: {
        serviceAccount: 'sa',
        model: { modelFormat: { name: 'onnx' }, storageUri: 's3://b/m' },
      },
    });
    assert.deepEqual(unsupported, []);
    const predictor = (spec as { predictor: Record<string, unknown> }).predictor;
    assert.equal(predictor['serviceAccountName'], 'sa');
    assert.equal(predictor['serviceAccount'], undefined);
  });

  it("reads a rolling update's numeric strings as integers, as KServe's intstr.Parse does", () => {
    const { spec } = normalizeInferenceServiceSpec({
      predictor: {
        onnx: {},
        deploymentStrategy: {
          type: 'RollingUpdate',
          rollingUpdate: { maxUnavailable: '0', maxSurge: '50%' },
        },
      },
    });
    assert.deepEqual(inferenceServiceSpecSchema.parse(spec).predictor.deploymentStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '50%' },
    });
  });

  it('is pure: the input is not modified', () => {
    const input = {
      predictor: {
        sklearn: { storageUri: 's3://a/b' },
        scaleMetric: 'rps',
        deploymentStrategy: { rollingUpdate: { maxSurge: '1' } },
      },
    };
    const copy = structuredClone(input);
    normalizeInferenceServiceSpec(input);
    assert.deepEqual(input, copy);
  });
});

describe('KServe fields in the predictor Deployment', () => {
  it('carries pod fields, model env/args/runtimeVersion and the strategy into the Deployment', () => {
    const rt = runtime('tessera-onnx', {
      cluster: true,
      containers: [
        {
          name: 'kserve-container',
          image: 'registry.example/tessera/server:0.1.0',
          args: ['start'],
        },
      ],
    });
    const input = isvc({
      model: {
        modelFormat: { name: 'onnx' },
        storageUri: 's3://models/iris/',
        runtimeVersion: '0.2.0',
        args: ['--log-level', 'debug'],
        env: [
          { name: 'OMP_NUM_THREADS', value: '2' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
      },
      serviceAccountName: 'models-reader',
      nodeSelector: { 'node.kubernetes.io/instance-type': 'c5.xlarge' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
            ],
          },
        },
      },
      imagePullSecrets: [{ name: 'regcred' }],
      annotations: { 'prometheus.io/scrape': 'true' },
      labels: { team: 'ml', 'app.kubernetes.io/name': 'not-ours' },
      deploymentStrategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '0', maxSurge: '50%' },
      },
    });
    const d = buildDeployment({
      isvc: input,
      runtime: rt,
      config: { ...manifestConfig, imagePullSecrets: ['regcred', 'ops'] },
    });
    const pod = d.spec?.template.spec;
    assert.equal(pod?.containers[0]?.image, 'registry.example/tessera/server:0.2.0');
    assert.deepEqual(pod?.containers[0]?.args, ['start', '--log-level', 'debug']);
    assert.deepEqual(pod?.imagePullSecrets, [{ name: 'regcred' }, { name: 'ops' }]);
    assert.notEqual(d.spec?.template.metadata?.labels?.['app.kubernetes.io/name'], 'not-ours');
    assertGolden('operator/deployment-kserve-pod-fields', d);
  });

  it('replaces an image tag or digest with runtimeVersion, keeping a registry port', () => {
    assert.equal(withRuntimeVersion('reg:5000/a/b:1', '2'), 'reg:5000/a/b:2');
    assert.equal(withRuntimeVersion('reg:5000/a/b', '2'), 'reg:5000/a/b:2');
    assert.equal(withRuntimeVersion('a/b@sha256:abc', '2'), 'a/b:2');
    assert.equal(withRuntimeVersion('a/b:1', undefined), 'a/b:1');
  });
});
