import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildAll,
  buildDeployment,
  buildHpa,
  buildPoolShard,
  buildService,
  placedModels,
} from '../../../operator/src/manifests/index.js';
import { ENV, STORAGE_CONFIG_DIR, STORAGE_CONFIG_SECRET } from '@tessera/contract';
import { AUTOSCALER_CLASS_ANNOTATION } from '../../../operator/src/api/v1alpha1/index.js';
import { assertGolden } from '../../support/golden.js';
import { isvc, manifestConfig, runtime } from './fixtures.js';

const rt = runtime('tessera-onnx', { cluster: true });

describe('manifest builders', () => {
  it('builds the basic Deployment', () => {
    assertGolden(
      'operator/deployment-basic',
      buildDeployment({ isvc: isvc(), runtime: rt, config: manifestConfig }),
    );
  });

  it('builds a Deployment from a runtime with image, env, resources and a sidecar, merged with the model resources', () => {
    const custom = runtime('custom', {
      containers: [
        {
          name: 'kserve-container',
          image: 'registry.example/tessera/server:9.9.9',
          env: [
            { name: 'TESSERA_SERVER_LOG_LEVEL', value: 'debug' },
            { name: 'TESSERA_REQUIRED_MODELS', value: 'overridden-by-the-operator' },
          ],
          resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
        },
        { name: 'proxy', image: 'registry.example/proxy:1', args: ['--port', '9000'] },
        // KServe's runtimes may list their own agent; Tessera's agent takes its place.
        { name: 'agent', image: 'registry.example/kserve-agent:1' },
      ],
    });
    const input = isvc({
      model: {
        name: 'iris-v1',
        modelFormat: { name: 'onnx' },
        storageUri: 's3://models/iris/',
        resources: { limits: { memory: '4Gi' } },
      },
    });
    assertGolden(
      'operator/deployment-runtime-sidecar',
      buildDeployment({ isvc: input, runtime: custom, config: manifestConfig }),
    );
  });

  it("builds a Deployment from a KServe-shaped runtime: its container and pod fields under the predictor's, placeholders filled", () => {
    const kserve = runtime('kserve-shaped', {
      cluster: true,
      labels: { 'runtime-label': 'rt', team: 'runtime' },
      annotations: { 'prometheus.kserve.io/port': '8080' },
      nodeSelector: { pool: 'cpu', zone: 'a' },
      tolerations: [{ key: 'runtime', operator: 'Exists', effect: 'NoSchedule' }],
      imagePullSecrets: [{ name: 'runtime-pull' }],
      serviceAccountName: 'runtime-sa',
      schedulerName: 'batch-scheduler',
      volumes: [
        { name: 'shm', emptyDir: { medium: 'Memory' } },
        { name: 'settings', configMap: { name: 'server-settings' } },
      ],
      containers: [
        {
          name: 'kserve-container',
          image: 'registry.example/kserve-sklearnserver:1.0',
          imagePullPolicy: 'IfNotPresent',
          workingDir: '/opt/server',
          command: ['python', '-m', 'server'],
          args: ['--model_name={{.Name}}', '--namespace={{.Namespace}}'],
          env: [
            { name: 'IMPLEMENTATION', value: '{{.Labels.modelClass}}' },
            { name: 'FRAMEWORK', value: '{{.Annotations.modelFormat}}' },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          ],
          ports: [
            { containerPort: 8080, protocol: 'TCP' },
            { name: 'h2c', containerPort: 9000, protocol: 'TCP' },
          ],
          securityContext: {
            runAsUser: 1000,
            runAsNonRoot: true,
            privileged: false,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
          readinessProbe: { httpGet: { path: '/v2/models/{{.Name}}/ready', port: 8080 } },
          startupProbe: { httpGet: { path: '/v2/health/live', port: 8080 }, failureThreshold: 30 },
          volumeMounts: [
            { name: 'shm', mountPath: '/dev/shm' },
            { name: 'settings', mountPath: '/etc/server', readOnly: true },
          ],
          resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
        },
      ],
    });
    const input = isvc({
      model: { modelFormat: { name: 'onnx' }, storageUri: 's3://models/iris/', args: ['--debug'] },
      nodeSelector: { zone: 'b' },
      serviceAccountName: 'model-reader',
      labels: { team: 'inference' },
    });
    input.metadata.labels = { modelClass: 'mlserver_sklearn.SKLearnModel' };
    input.metadata.annotations = { modelFormat: 'sklearn' };
    const d = buildDeployment({ isvc: input, runtime: kserve, config: manifestConfig });
    assertGolden('operator/deployment-kserve-runtime', d);
    const pod = d.spec?.template.spec;
    const server = pod?.containers[0];
    assert.deepEqual(server?.args, ['--model_name=iris', '--namespace=models', '--debug']);
    assert.deepEqual(
      server?.env?.slice(0, 2).map((e) => e.value),
      ['mlserver_sklearn.SKLearnModel', 'sklearn'],
    );
    assert.equal(server?.readinessProbe?.httpGet?.path, '/v2/models/iris/ready');
    assert.equal(server?.securityContext?.runAsUser, 1000);
    assert.equal(server?.securityContext?.readOnlyRootFilesystem, true);
    // The predictor wins (KServe merges its PodSpec over the runtime's); node selector keys merge.
    assert.equal(pod?.serviceAccountName, 'model-reader');
    assert.deepEqual(pod?.nodeSelector, { pool: 'cpu', zone: 'b' });
    assert.equal(d.spec?.template.metadata?.labels?.['team'], 'inference');
    assert.equal(d.spec?.template.metadata?.labels?.['runtime-label'], 'rt');
    assert.deepEqual(
      pod?.volumes?.find((v) => v.name === 'shm'),
      { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
    );
    // The agent sidecar keeps Tessera's image, never the runtime's foreign server image.
    assert.equal(pod?.containers[1]?.name, 'agent');
  });

  it('bounds every pod it builds: resources on every container, a sizeLimit on every emptyDir', () => {
    const sidecarRuntime = runtime('with-sidecar', {
      containers: [{ name: 'kserve-container' }, { name: 'proxy', image: 'registry.example/p:1' }],
    });
    const pods = [
      buildDeployment({ isvc: isvc(), runtime: sidecarRuntime, config: manifestConfig }),
      buildPoolShard({
        namespace: 'models',
        runtime: { ...rt, metadata: { ...rt.metadata, uid: 'u-1' } },
        shard: 0,
        models: ['a'],
        replicas: 1,
        config: manifestConfig,
      }),
    ].map((d) => d.spec?.template.spec);
    for (const pod of pods) {
      assert.ok(pod !== undefined);
      for (const c of pod.containers) {
        assert.ok(c.resources?.requests?.['memory'], `${c.name} has a memory request`);
        assert.ok(c.resources?.limits?.['memory'], `${c.name} has a memory limit`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, c.name);
      }
      for (const v of pod.volumes ?? []) {
        if (v.emptyDir !== undefined) assert.ok(v.emptyDir.sizeLimit, `${v.name} has a sizeLimit`);
      }
    }
  });

  it('keeps a user-set request without adding a default limit below it', () => {
    const pod = buildDeployment({
      isvc: isvc({
        model: {
          modelFormat: { name: 'onnx' },
          storageUri: 's3://models/iris/',
          resources: { requests: { memory: '8Gi' } },
        },
      }),
      runtime: rt,
      config: manifestConfig,
    }).spec?.template.spec;
    assert.deepEqual(pod?.containers[0]?.resources, { requests: { memory: '8Gi' } });
  });

  it('uses the configured image pull secrets and model volume bound', () => {
    const pod = buildDeployment({
      isvc: isvc(),
      runtime: rt,
      config: { ...manifestConfig, imagePullSecrets: ['mirror'], modelVolumeSizeLimit: '50Gi' },
    }).spec?.template.spec;
    assert.deepEqual(pod?.imagePullSecrets, [{ name: 'mirror' }]);
    assert.deepEqual(
      pod?.volumes?.find((v) => v.name === 'model-dir'),
      { name: 'model-dir', emptyDir: { sizeLimit: '50Gi' } },
    );
  });

  it('hands the proxy and the CA bundle to the agent only (it alone downloads)', () => {
    const pod = buildDeployment({
      isvc: isvc(),
      runtime: rt,
      config: {
        ...manifestConfig,
        agentProxy: { httpsProxy: 'http://proxy.internal:3128', noProxy: '.svc,10.0.0.0/8' },
        caBundleConfigMap: 'tessera-ca-bundle',
      },
    }).spec?.template.spec;
    const [server, agent] = pod?.containers ?? [];
    const env = Object.fromEntries((agent?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env['HTTPS_PROXY'], 'http://proxy.internal:3128');
    assert.equal(env['NO_PROXY'], '.svc,10.0.0.0/8');
    assert.equal(env['NODE_USE_ENV_PROXY'], '1');
    assert.equal(env['HTTP_PROXY'], undefined);
    assert.equal(env['NODE_EXTRA_CA_CERTS'], '/etc/tessera/ca/ca.crt');
    assert.ok(agent?.volumeMounts?.some((m) => m.name === 'ca-bundle' && m.readOnly === true));
    assert.ok(!server?.env?.some((e) => /PROXY|CA_CERTS/.test(e.name)));
    assert.deepEqual(
      pod?.volumes?.find((v) => v.name === 'ca-bundle')?.configMap?.name,
      'tessera-ca-bundle',
    );
  });

  it('gives credentials to the agent only, and never storage details to the server', () => {
    const pod = buildDeployment({
      isvc: isvc({
        model: {
          modelFormat: { name: 'onnx' },
          storageUri: 's3://models/iris/',
          storage: { secretName: 's3-credentials' },
        },
      }),
      runtime: rt,
      config: manifestConfig,
    }).spec!.template.spec!;
    const [server, agent] = pod.containers;
    assert.equal(agent?.name, 'agent');
    assert.deepEqual(
      agent.volumeMounts?.find((m) => m.name === 'storage-credentials'),
      {
        name: 'storage-credentials',
        mountPath: '/var/run/secrets/tessera/storage',
        readOnly: true,
      },
    );
    assert.equal(
      server?.volumeMounts?.some((m) => m.name === 'storage-credentials'),
      false,
    );
    assert.equal(JSON.stringify(server).includes('s3://'), false);
    assert.equal(
      pod.volumes?.find((v) => v.name === 'storage-credentials')?.secret?.secretName,
      's3-credentials',
    );
  });

  it('mounts the storage-config Secret, optional, into the agent of every pool shard pod only', () => {
    const pooled = runtime('multi', { multiModel: true });
    const shard = buildPoolShard({
      namespace: 'models',
      runtime: { ...pooled, metadata: { ...pooled.metadata, uid: 'rt-uid' } },
      shard: 0,
      models: ['a'],
      replicas: 1,
      config: manifestConfig,
    });
    const pod = shard.spec!.template.spec!;
    const [server, agent] = pod.containers;
    assert.deepEqual(pod.volumes?.find((v) => v.name === 'storage-config')?.secret, {
      secretName: STORAGE_CONFIG_SECRET,
      optional: true,
      defaultMode: 0o440,
    });
    assert.deepEqual(
      agent?.volumeMounts?.find((m) => m.name === 'storage-config'),
      { name: 'storage-config', mountPath: STORAGE_CONFIG_DIR, readOnly: true },
    );
    assert.equal(
      agent?.env?.find((e) => e.name === ENV.agentStorageConfigDir)?.value,
      STORAGE_CONFIG_DIR,
    );
    assert.equal(
      server?.volumeMounts?.some((m) => m.name === 'storage-config'),
      false,
    );
    assert.equal(JSON.stringify(server).includes(STORAGE_CONFIG_DIR), false);
    // No per-model Secret on a shard: placing a model never changes the pod template.
    assert.equal(
      pod.volumes?.some((v) => v.name === 'storage-credentials'),
      false,
    );
  });

  it('builds a pool shard owned by its runtime, scaled to zero when empty', () => {
    const pooled = runtime('multi', { multiModel: true });
    const withUid = { ...pooled, metadata: { ...pooled.metadata, uid: 'rt-uid' } };
    const shard = buildPoolShard({
      namespace: 'models',
      runtime: withUid,
      shard: 1,
      models: ['b', 'a'],
      replicas: 1,
      config: manifestConfig,
    });
    assertGolden('operator/pool-shard', shard);
    const empty = buildPoolShard({
      namespace: 'models',
      runtime: withUid,
      shard: 1,
      models: [],
      replicas: 1,
      config: manifestConfig,
    });
    assert.equal(empty.spec?.replicas, 0);
    assert.deepEqual(placedModels(shard), ['a', 'b']);
  });

  it("gives a pool shard the runtime's pod fields, its placeholders filled from the shard", () => {
    const pooled = runtime('mesh', {
      multiModel: true,
      labels: { tier: 'gold' },
      annotations: { 'prometheus.kserve.io/port': '8080' },
      nodeSelector: { pool: 'cpu' },
      containers: [{ name: 'mlserver', args: ['--name={{.Name}}', '--ns={{.Namespace}}'] }],
    });
    const shard = buildPoolShard({
      namespace: 'models',
      runtime: { ...pooled, metadata: { ...pooled.metadata, uid: 'rt-uid' } },
      shard: 0,
      models: ['a'],
      replicas: 1,
      config: manifestConfig,
    });
    const template = shard.spec?.template;
    assert.deepEqual(template?.spec?.containers[0]?.args, [
      '--name=tessera-pool-mesh-0',
      '--ns=models',
    ]);
    assert.equal(template?.metadata?.labels?.['tier'], 'gold');
    assert.equal(template?.metadata?.labels?.['serving.tessera.io/shard'], '0');
    assert.equal(template?.metadata?.annotations?.['prometheus.kserve.io/port'], '8080');
    assert.deepEqual(template?.spec?.nodeSelector, { pool: 'cpu' });
  });

  it('rolls out surge-first and gives the server its shutdown delay within the grace period', () => {
    const d = buildDeployment({
      isvc: isvc(),
      runtime: rt,
      config: { ...manifestConfig, serverShutdownDelaySeconds: 20 },
    });
    assert.deepEqual(d.spec?.strategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' },
    });
    const pod = d.spec?.template.spec;
    const env = pod?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === ENV.shutdownDelaySeconds)?.value, '20');
    // The delay, the server's 30 s shutdown bound and a margin: SIGKILL never cuts the drain.
    assert.equal(pod?.terminationGracePeriodSeconds, 55);
  });

  it("keeps the predictor's own deploymentStrategy", () => {
    const d = buildDeployment({
      isvc: isvc({ deploymentStrategy: { type: 'Recreate' } }),
      runtime: rt,
      config: manifestConfig,
    });
    assert.deepEqual(d.spec?.strategy, { type: 'Recreate' });
  });

  it('omits replicas from the Deployment when an HPA runs', () => {
    const d = buildDeployment({
      isvc: isvc({ minReplicas: 2, maxReplicas: 4 }),
      runtime: rt,
      config: manifestConfig,
    });
    assert.equal(d.spec?.replicas, undefined);
    assertGolden('operator/deployment-with-hpa', d);
  });

  it('uses spec.predictor.replicas (the scale subresource) when min == max', () => {
    const d = buildDeployment({
      isvc: isvc({ minReplicas: 2, maxReplicas: 2, replicas: 5 }),
      runtime: rt,
      config: manifestConfig,
    });
    assert.equal(d.spec?.replicas, 5);
  });

  it('meets restricted Pod Security in every container', () => {
    const custom = runtime('c', { containers: [{ name: 'a' }, { name: 'b', image: 'x' }] });
    const pod = buildDeployment({ isvc: isvc(), runtime: custom, config: manifestConfig }).spec!
      .template.spec!;
    assert.equal(pod.securityContext!.runAsNonRoot, true);
    assert.equal(pod.securityContext!.seccompProfile!.type, 'RuntimeDefault');
    assert.deepEqual(
      pod.containers.map((c) => c.name),
      ['a', 'agent', 'b'],
    );
    for (const c of pod.containers) {
      const sc = c.securityContext!;
      assert.equal(sc.allowPrivilegeEscalation, false, c.name);
      assert.equal(sc.readOnlyRootFilesystem, true, c.name);
      assert.equal(sc.runAsNonRoot, true, c.name);
      assert.deepEqual(sc.capabilities!.drop, ['ALL'], c.name);
      assert.equal(sc.seccompProfile!.type, 'RuntimeDefault', c.name);
    }
  });

  it('builds the Service', () => {
    assertGolden(
      'operator/service-basic',
      buildService({ isvc: isvc(), runtime: rt, config: manifestConfig }),
    );
  });

  it('builds no HPA when minReplicas == maxReplicas', () => {
    assert.equal(
      buildHpa({
        isvc: isvc({ minReplicas: 3, maxReplicas: 3 }),
        runtime: rt,
        config: manifestConfig,
      }),
      undefined,
    );
    assert.equal(buildHpa({ isvc: isvc(), runtime: rt, config: manifestConfig }), undefined);
  });

  it('builds a CPU HPA by default', () => {
    assertGolden(
      'operator/hpa-cpu',
      buildHpa({
        isvc: isvc({ minReplicas: 1, maxReplicas: 4 }),
        runtime: rt,
        config: manifestConfig,
      }),
    );
  });

  it('builds a memory HPA with a target', () => {
    assertGolden(
      'operator/hpa-memory',
      buildHpa({
        isvc: isvc({ maxReplicas: 3, scaleMetric: 'memory', scaleTarget: 70 }),
        runtime: rt,
        config: manifestConfig,
      }),
    );
  });

  it('builds a Pods-metric HPA on the in-flight gauge', () => {
    assertGolden(
      'operator/hpa-in-flight',
      buildHpa({
        isvc: isvc({ minReplicas: 2, maxReplicas: 8, scaleMetric: 'inFlight', scaleTarget: 4 }),
        runtime: rt,
        config: manifestConfig,
      }),
    );
  });

  it('builds a Pods-metric HPA on the request rate', () => {
    assertGolden(
      'operator/hpa-request-rate',
      buildHpa({
        isvc: isvc({ maxReplicas: 10, scaleMetric: 'requestRate' }),
        runtime: rt,
        config: manifestConfig,
      }),
    );
  });

  it('leaves scaling to the user with the external autoscaler class', () => {
    const base = isvc({ minReplicas: 1, maxReplicas: 4 });
    const external = {
      ...base,
      metadata: { ...base.metadata, annotations: { [AUTOSCALER_CLASS_ANNOTATION]: 'external' } },
    };
    assert.equal(buildHpa({ isvc: external, runtime: rt, config: manifestConfig }), undefined);
    // replicas stays unset so the user's autoscaler is not overwritten on every reconcile.
    const deployment = buildDeployment({ isvc: external, runtime: rt, config: manifestConfig });
    assert.equal(deployment.spec?.replicas, undefined);
    // Also without a replica range here: the ScaledObject's own min/max apply.
    const fixed = isvc({ replicas: 2 });
    const unranged = {
      ...fixed,
      metadata: { ...fixed.metadata, annotations: { [AUTOSCALER_CLASS_ANNOTATION]: 'external' } },
    };
    assert.equal(
      buildDeployment({ isvc: fixed, runtime: rt, config: manifestConfig }).spec?.replicas,
      2,
    );
    assert.equal(
      buildDeployment({ isvc: unranged, runtime: rt, config: manifestConfig }).spec?.replicas,
      undefined,
    );
    assert.equal(buildHpa({ isvc: unranged, runtime: rt, config: manifestConfig }), undefined);
    const hpa = {
      ...base,
      metadata: { ...base.metadata, annotations: { [AUTOSCALER_CLASS_ANNOTATION]: 'hpa' } },
    };
    assert.deepEqual(
      buildHpa({ isvc: hpa, runtime: rt, config: manifestConfig }),
      buildHpa({ isvc: base, runtime: rt, config: manifestConfig }),
    );
  });

  it('is pure: the same input gives the same output', () => {
    const input = { isvc: isvc({ maxReplicas: 3 }), runtime: rt, config: manifestConfig };
    assert.deepEqual(buildAll(input), buildAll(input));
  });

  it('refuses an InferenceService without a uid (owner references need one)', () => {
    const noUid = isvc();
    delete noUid.metadata.uid;
    assert.throws(
      () => buildService({ isvc: noUid, runtime: rt, config: manifestConfig }),
      /has no uid/,
    );
  });
});
