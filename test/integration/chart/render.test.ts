// `helm lint` and `helm template` of charts/tessera with the real helm, for the default values,
// the namespace-scoped mode and the air-gapped values: what renders, and an RBAC lint over it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  inferenceServiceSchema,
  servingRuntimeSchema,
} from '../../../operator/src/api/v1alpha1/index.js';
import { flagsToEnv, loadConfig } from '../../../operator/src/config.js';
import { POD_METRICS, buildDeployment } from '../../../operator/src/manifests/index.js';
import { selectRuntime } from '../../../operator/src/reconcilers/inference-service/runtime-selection.js';
import type { KubeObject } from '../../../operator/src/kube/client.js';
import {
  CA_FILE,
  CHART,
  CHART_RUNTIMES,
  ROOT,
  VALUE_SETS,
  helm,
  ofKind,
  ok,
  render,
} from './helm.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface PodTemplateOwner extends KubeObject {
  spec: {
    replicas?: number;
    template: {
      spec: {
        imagePullSecrets?: { name: string }[];
        containers: { name: string; image: string; env?: EnvVar[] }[];
      };
    };
  };
}

/** The operator container's plain env of a render (valueFrom entries dropped). */
function operatorEnv(objects: KubeObject[]): Record<string, string> {
  const [deployment] = ofKind<PodTemplateOwner>(objects, 'Deployment');
  assert.ok(deployment, 'the chart renders the operator Deployment');
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(
    env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value ?? '']),
  );
}

/** Every rule of every Role and ClusterRole of a render. */
function rules(objects: KubeObject[]): Rule[] {
  return [...ofKind(objects, 'Role'), ...ofKind(objects, 'ClusterRole')].flatMap(
    (r) => (r as KubeObject & { rules?: Rule[] }).rules ?? [],
  );
}

const RELEASE_NS = 'tessera-system';

/** The fields of a rendered runtime that the python runtime's test reads. */
type PythonRuntime = KubeObject & {
  spec: {
    supportedModelFormats: { name: string; autoSelect: boolean; priority: number }[];
    containers: {
      image?: string;
      env?: EnvVar[];
      volumeMounts?: { name: string; mountPath: string }[];
    }[];
    volumes?: unknown[];
  };
};

describe('charts/tessera with the real helm', () => {
  for (const [name, values] of Object.entries(VALUE_SETS)) {
    it(`passes helm lint --strict with the ${name} values`, async () => {
      const run = ok(await helm('lint', '--strict', CHART, ...values), 'helm lint');
      assert.match(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    it(`renders (${name} values) an operator whose settings the operator itself accepts`, async () => {
      const objects = await render('t', RELEASE_NS, values);
      const env = operatorEnv(objects);
      // Every TESSERA_OPERATOR_* name is a setting the operator knows (flagsToEnv refuses others)…
      const flags = Object.keys(env)
        .filter((k) => k.startsWith('TESSERA_OPERATOR_'))
        .map(
          (k) =>
            `--${k.slice('TESSERA_OPERATOR_'.length).toLowerCase().replaceAll('_', '-')}=${env[k] ?? ''}`,
        );
      assert.ok(
        flags.length >= 15,
        `the chart sets the operator's settings (${String(flags.length)})`,
      );
      flagsToEnv(flags);
      // …and every value parses: the pod would start rather than exit on a config error.
      loadConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1' });
    });

    it(`renders (${name} values) RBAC with no wildcard and no Secret access beyond get`, async () => {
      const all = rules(await render('t', RELEASE_NS, values));
      assert.ok(all.length > 0);
      for (const rule of all) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames'] as const)
          assert.ok(
            !(rule[field] ?? []).includes('*'),
            `no '*' in ${field}: ${JSON.stringify(rule)}`,
          );
        assert.equal(rule.nonResourceURLs, undefined);
        if ((rule.resources ?? []).includes('secrets'))
          assert.deepEqual(rule.verbs, ['get'], 'Secrets are get-only');
        // Writes are limited to what the operator owns.
        const writes = (rule.verbs ?? []).filter((v) => !['get', 'list', 'watch'].includes(v));
        if (writes.includes('delete'))
          assert.ok(
            ['horizontalpodautoscalers', 'scaledobjects'].includes(rule.resources?.join() ?? ''),
            `only autoscalers are deleted by the operator: ${JSON.stringify(rule)}`,
          );
      }
    });
  }

  it('renders the CRDs with the content of crds/ and the keep policy', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.default);
    const crds = ofKind(objects, 'CustomResourceDefinition');
    const files = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.yaml'));
    assert.equal(crds.length, files.length);
    for (const file of files) {
      const want = parse(readFileSync(join(ROOT, 'crds', file), 'utf8')) as KubeObject;
      const got = structuredClone(crds.find((c) => c.metadata?.name === want.metadata?.name));
      assert.ok(got, `${file} is rendered`);
      assert.deepEqual(got.metadata?.annotations, { 'helm.sh/resource-policy': 'keep' });
      delete got.metadata?.annotations;
      assert.deepEqual(got, want);
    }
    const off = await render('t', RELEASE_NS, ['--set', 'crds.install=false']);
    assert.equal(ofKind(off, 'CustomResourceDefinition').length, 0);
    const unkept = await render('t', RELEASE_NS, ['--set', 'crds.keep=false']);
    for (const crd of ofKind(unkept, 'CustomResourceDefinition'))
      assert.equal(crd.metadata?.annotations, undefined);
  });

  it('defaults to a cluster-wide operator: two replicas, leader election, a ClusterRole', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.default);
    const [deployment] = ofKind<PodTemplateOwner>(objects, 'Deployment');
    assert.equal(deployment?.spec.replicas, 2);
    const env = operatorEnv(objects);
    assert.equal(env['TESSERA_OPERATOR_LEADER_ELECT'], 'true');
    assert.equal(env['TESSERA_OPERATOR_WATCH_NAMESPACE'], '');
    assert.equal(env['TESSERA_OPERATOR_CLUSTER_RUNTIMES'], 'true');
    assert.equal(ofKind(objects, 'ClusterRole').length, 1);
    assert.deepEqual(
      ofKind(objects, 'Role').map((r) => r.metadata?.name),
      ['t-tessera-operator-leader-election'],
    );
    assert.deepEqual(
      ofKind(objects, 'ClusterServingRuntime').map((r) => r.metadata?.name),
      CHART_RUNTIMES,
    );
  });

  it("grants the cluster-wide operator exactly deploy/operator/rbac.yaml's rules", async () => {
    const deploy = parseAllDocuments(readFileSync(join(ROOT, 'deploy/operator/rbac.yaml'), 'utf8'))
      .map((d) => d.toJSON() as KubeObject & { rules?: Rule[] })
      .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    const chart = await render('t', RELEASE_NS, VALUE_SETS.default);
    for (const kind of ['ClusterRole', 'Role']) {
      assert.deepEqual(
        ofKind<KubeObject & { rules?: Rule[] }>(chart, kind).map((r) => r.rules),
        deploy.filter((r) => r.kind === kind).map((r) => r.rules),
        kind,
      );
    }
  });

  it('in namespace-scoped mode binds Roles in the watched namespaces only', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.namespaced);
    assert.equal(ofKind(objects, 'ClusterRole').length, 0);
    assert.equal(ofKind(objects, 'ClusterRoleBinding').length, 0);
    const roles = ofKind(objects, 'Role').filter(
      (r) => !r.metadata?.name?.endsWith('leader-election'),
    );
    assert.deepEqual(roles.map((r) => r.metadata?.namespace).sort(), ['team-a', 'team-b']);
    assert.deepEqual(
      ofKind(objects, 'RoleBinding')
        .map((r) => r.metadata?.namespace)
        .sort(),
      ['team-a', 'team-b', RELEASE_NS],
    );
    assert.ok(!rules(objects).some((r) => (r.resources ?? []).includes('clusterservingruntimes')));
    const env = operatorEnv(objects);
    assert.equal(env['TESSERA_OPERATOR_WATCH_NAMESPACE'], 'team-a,team-b');
    assert.equal(env['TESSERA_OPERATOR_CLUSTER_RUNTIMES'], 'false');
    assert.equal(ofKind(objects, 'ClusterServingRuntime').length, 0);
    assert.deepEqual(
      [...new Set(ofKind(objects, 'ServingRuntime').map((r) => r.metadata?.namespace))].sort(),
      ['team-a', 'team-b'],
    );
    // One value is enough: no list watches the release namespace.
    const alone = await render('t', RELEASE_NS, ['--set', 'namespaced=true']);
    assert.equal(operatorEnv(alone)['TESSERA_OPERATOR_WATCH_NAMESPACE'], RELEASE_NS);
    assert.equal(ofKind(alone, 'ClusterRole').length, 0);
  });

  it('with the air-gapped values pulls every image from the mirror and passes proxy and CA on', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.airGapped);
    const mirror = 'registry.internal:5000/mirror/';
    for (const d of ofKind<PodTemplateOwner>(objects, 'Deployment')) {
      for (const c of d.spec.template.spec.containers)
        assert.ok(c.image.startsWith(mirror), c.image);
      assert.deepEqual(d.spec.template.spec.imagePullSecrets, [{ name: 'mirror-pull' }]);
    }
    const env = operatorEnv(objects);
    assert.equal(env['TESSERA_OPERATOR_SERVER_IMAGE'], `${mirror}tessera/server`);
    assert.equal(env['TESSERA_OPERATOR_IMAGE_PULL_SECRETS'], 'mirror-pull');
    assert.equal(env['TESSERA_OPERATOR_AGENT_HTTPS_PROXY'], 'http://proxy.internal:3128');
    const [ca] = ofKind<KubeObject & { data: Record<string, string> }>(objects, 'ConfigMap');
    assert.equal(ca?.metadata?.namespace, 'models');
    assert.equal(env['TESSERA_OPERATOR_CA_BUNDLE_CONFIGMAP'], ca?.metadata?.name);
    assert.match(
      ca?.data['ca.crt'] ?? '',
      /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/,
    );
    // Runtimes name no image (the operator fills in the mirrored server image), except the
    // python runtime, which names the mirrored server-python image.
    for (const rt of ofKind<KubeObject & { spec: { containers: { image?: string }[] } }>(
      objects,
      'ClusterServingRuntime',
    ))
      assert.equal(
        rt.spec.containers[0]?.image,
        rt.metadata?.name === 'tessera-python' ? `${mirror}tessera/server-python:0.1.0` : undefined,
      );
  });

  it('renders the python runtime on the server-python image: mlserver auto-selected, sklearn named', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.default);
    const python = ofKind<PythonRuntime>(objects, 'ClusterServingRuntime').find(
      (r) => r.metadata?.name === 'tessera-python',
    );
    assert.ok(python, 'tessera-python is rendered');
    assert.deepEqual(python.spec.supportedModelFormats, [
      { name: 'mlserver', autoSelect: true, priority: 1 },
      { name: 'sklearn', autoSelect: false, priority: 1 },
    ]);
    const [container] = python.spec.containers;
    assert.equal(container?.image, 'tessera/server-python:0.1.0');
    assert.deepEqual(container.env, [
      { name: 'TESSERA_ENVIRONMENTS_DIR', value: '/var/lib/tessera/environments' },
    ]);
    assert.deepEqual(container.volumeMounts, [
      { name: 'python-environments', mountPath: '/var/lib/tessera/environments' },
    ]);
    assert.deepEqual(python.spec.volumes, [
      { name: 'python-environments', emptyDir: { sizeLimit: '10Gi' } },
    ]);
    // The ONNX-only sklearn runtime keeps auto-selecting the sklearn format.
    const sklearn = ofKind<PythonRuntime>(objects, 'ClusterServingRuntime').find(
      (r) => r.metadata?.name === 'tessera-sklearn',
    );
    assert.deepEqual(sklearn?.spec.supportedModelFormats, [
      { name: 'sklearn', autoSelect: true, priority: 1 },
    ]);
    assert.equal(sklearn.spec.containers[0]?.image, undefined);
    const own = await render('t', RELEASE_NS, [
      '--set',
      'runtimes.python.image.registry=mirror.example:5000',
      '--set',
      'runtimes.python.image.tag=0.2.0',
    ]);
    const tagged = ofKind<PythonRuntime>(own, 'ClusterServingRuntime').find(
      (r) => r.metadata?.name === 'tessera-python',
    );
    assert.equal(
      tagged?.spec.containers[0]?.image,
      'mirror.example:5000/tessera/server-python:0.2.0',
    );
    const off = await render('t', RELEASE_NS, ['--set', 'runtimes.python.enabled=false']);
    assert.ok(
      !ofKind(off, 'ClusterServingRuntime').some((r) => r.metadata?.name === 'tessera-python'),
    );
  });

  it("selects the chart's runtimes: sklearn on the ONNX one, a named pickle and mlserver on python", async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.airGapped);
    const cluster = ofKind(objects, 'ClusterServingRuntime').map((r) =>
      servingRuntimeSchema.parse({ ...r, metadata: { ...r.metadata, uid: 'uid-rt' } }),
    );
    const isvc = (format: string, runtime?: string) =>
      inferenceServiceSchema.parse({
        apiVersion: 'serving.tessera.io/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'm', namespace: 'models', uid: 'uid-isvc' },
        spec: {
          predictor: {
            model: { modelFormat: { name: format }, storageUri: 's3://models/m', runtime },
          },
        },
      });
    const chosen = (format: string, runtime?: string): string => {
      const s = selectRuntime(isvc(format, runtime), [], cluster);
      return s.kind === 'selected' ? s.runtime.metadata.name : `${s.reason}: ${s.message}`;
    };
    assert.equal(chosen('sklearn'), 'tessera-sklearn');
    assert.equal(chosen('sklearn', 'tessera-python'), 'tessera-python');
    assert.equal(chosen('mlserver'), 'tessera-python');
    assert.match(chosen('mlserver', 'tessera-sklearn'), /^RuntimeNotRecognized: .*mlserver/);
    // The pod the operator builds for a named pickle: the mirrored python image, its environments
    // emptyDir (bounded), and the agent on the server image beside it.
    const python = cluster.find((r) => r.metadata.name === 'tessera-python');
    assert.ok(python);
    const config = loadConfig({ ...operatorEnv(objects), KUBERNETES_SERVICE_HOST: '10.0.0.1' });
    const pod = buildDeployment({
      isvc: isvc('sklearn', 'tessera-python'),
      runtime: python,
      config: config.manifests,
    }).spec?.template.spec;
    const server = pod?.containers.find((c) => c.name === 'kserve-container');
    assert.equal(server?.image, 'registry.internal:5000/mirror/tessera/server-python:0.1.0');
    assert.ok(
      server?.env?.some(
        (e) => e.name === 'TESSERA_ENVIRONMENTS_DIR' && e.value === '/var/lib/tessera/environments',
      ),
    );
    assert.ok(server?.volumeMounts?.some((m) => m.name === 'python-environments'));
    assert.equal(server?.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(
      pod?.volumes?.find((v) => v.name === 'python-environments'),
      { name: 'python-environments', emptyDir: { sizeLimit: '10Gi' } },
    );
    const agent = pod?.containers.find((c) => c.image !== server?.image);
    assert.equal(agent?.image, 'registry.internal:5000/mirror/tessera/server:0.1.0');
  });

  it('puts a NetworkPolicy on the model servers: agent from the operator only, inference open', async () => {
    const objects = await render('t', RELEASE_NS, VALUE_SETS.namespaced);
    const policies = ofKind<
      KubeObject & {
        spec: {
          podSelector: { matchLabels: Record<string, string> };
          ingress: { ports: { port: string }[]; from?: unknown[] }[];
        };
      }
    >(objects, 'NetworkPolicy').filter((p) => p.metadata?.name === 't-tessera-model-servers');
    assert.deepEqual(policies.map((p) => p.metadata?.namespace).sort(), ['team-a', 'team-b']);
    for (const p of policies) {
      assert.equal(p.spec.podSelector.matchLabels['app.kubernetes.io/name'], 'tessera-server');
      const byPort = new Map(p.spec.ingress.flatMap((r) => r.ports.map((x) => [x.port, r.from])));
      assert.equal(byPort.get('http'), undefined, 'inference from anyone');
      assert.equal(byPort.get('grpc'), undefined, 'inference from anyone');
      assert.deepEqual(byPort.get('agent'), [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': RELEASE_NS } },
          podSelector: {
            matchLabels: {
              'app.kubernetes.io/name': 'tessera-operator',
              'app.kubernetes.io/instance': 't',
            },
          },
        },
      ]);
      assert.ok(!byPort.has('admin'), 'the repository API stays on loopback');
    }
  });

  it('with autoscaling.keda set, points the operator at Prometheus and grants ScaledObjects only then', async () => {
    const kedaRule = (all: Rule[]) => all.filter((r) => r.apiGroups?.includes('keda.sh'));
    const plain = await render('t', RELEASE_NS, []);
    assert.deepEqual(kedaRule(rules(plain)), []);
    assert.equal(operatorEnv(plain)['TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS'], undefined);
    const objects = await render('t', RELEASE_NS, VALUE_SETS.keda);
    const env = operatorEnv(objects);
    assert.equal(
      env['TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS'],
      'http://prometheus-operated.monitoring:9090',
    );
    assert.equal(env['TESSERA_OPERATOR_KEDA_RATE_WINDOW'], '1m');
    assert.deepEqual(
      loadConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1' }).manifests.keda?.rateWindow,
      '1m',
    );
    assert.deepEqual(kedaRule(rules(objects)), [
      {
        apiGroups: ['keda.sh'],
        resources: ['scaledobjects'],
        verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
      },
    ]);
    // Namespace-scoped: every Role carries it.
    const scoped = await render('t', RELEASE_NS, [...VALUE_SETS.keda, ...VALUE_SETS.namespaced]);
    const roles = ofKind<KubeObject & { rules: Rule[] }>(scoped, 'Role').filter((r) =>
      ['team-a', 'team-b'].includes(r.metadata?.namespace ?? ''),
    );
    assert.equal(roles.length, 2);
    for (const role of roles) assert.equal(kedaRule(role.rules).length, 1);
  });

  it("renders prometheus-adapter rules that name the metrics exactly as the operator's HPAs ask", async () => {
    const name = (objects: KubeObject[]) =>
      ofKind<KubeObject & { data: Record<string, string> }>(objects, 'ConfigMap').find((c) =>
        c.metadata?.name?.endsWith('-prometheus-adapter-rules'),
      );
    assert.equal(name(await render('t', RELEASE_NS, [])), undefined, 'off by default');
    const configMap = name(
      await render('t', RELEASE_NS, [
        '--set',
        'metrics.prometheusAdapterRules.enabled=true',
        '--set',
        'metrics.prometheusAdapterRules.rateWindow=90s',
      ]),
    );
    assert.ok(configMap);
    const config = parse(configMap.data['config.yaml'] ?? '') as {
      rules: {
        seriesQuery: string;
        resources: { overrides: Record<string, { resource: string }> };
        name: { matches: string; as: string };
        metricsQuery: string;
      }[];
    };
    // prometheus-adapter's naming: the series name through `matches`, replaced by `as`.
    const served = config.rules.map((rule) => {
      const series = /^(\w+)\{/.exec(rule.seriesQuery)?.[1] ?? '';
      assert.deepEqual(rule.resources.overrides, {
        namespace: { resource: 'namespace' },
        pod: { resource: 'pod' },
      });
      assert.match(rule.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>\}/);
      assert.match(rule.metricsQuery, /by \(<<\.GroupBy>>\)$/);
      return series.replace(new RegExp(rule.name.matches), rule.name.as.replaceAll('${1}', '$1'));
    });
    assert.deepEqual(served.sort(), Object.values(POD_METRICS).sort());
    assert.ok(
      config.rules.some(
        (r) => r.metricsQuery.includes('rate(') && r.metricsQuery.includes('[90s]'),
      ),
    );
  });

  it('renders the optional ServiceMonitor, PodMonitor and Grafana dashboard', async () => {
    const objects = await render('t', RELEASE_NS, [
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.grafanaDashboard.enabled=true',
    ]);
    assert.equal(ofKind(objects, 'ServiceMonitor').length, 1);
    assert.equal(ofKind(objects, 'PodMonitor').length, 1);
    const [dashboard] = ofKind<KubeObject & { data: Record<string, string> }>(objects, 'ConfigMap');
    const json = JSON.parse(dashboard?.data['tessera-dashboard.json'] ?? '') as {
      panels: { targets: { expr: string }[] }[];
    };
    assert.ok(
      json.panels.some((p) =>
        p.targets.some((t) => t.expr.includes('tessera_model_infer_in_flight')),
      ),
    );
  });

  it("renders every `helm install` of the README's Helm section as written", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('### Install with Helm'),
      readme.indexOf('\n## ', readme.indexOf('### Install with Helm')),
    );
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap((m) => (m[1] ?? '').replaceAll('\\\n', ' ').split('\n'))
      .filter((l) => l.startsWith('helm install'));
    assert.equal(commands.length, 3);
    for (const line of commands) {
      // Plain words and single quotes only; `install` becomes `template`, ca.crt the test CA.
      const args = (line.match(/'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^'(.*)'$/, '$1'));
      assert.deepEqual(args.slice(0, 4), ['helm', 'install', 'tessera', 'charts/tessera']);
      const rest = args
        .slice(4)
        .map((a) => a.replace(/^caBundle\.pem=ca\.crt$/, `caBundle.pem=${CA_FILE}`));
      const run = ok(await helm('template', 'tessera', CHART, ...rest), line);
      assert.match(run.stdout, /kind: Deployment/);
    }
  });

  it("renders the README's Autoscale `helm upgrade`: KEDA pointed at Prometheus, PodMonitor on", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('### Autoscale it');
    const section = readme.slice(start, readme.indexOf('\n## ', start));
    const [line, ...others] = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap((m) => (m[1] ?? '').replaceAll('\\\n', ' ').split('\n'))
      .filter((l) => l.startsWith('helm upgrade'));
    assert.ok(line !== undefined);
    assert.deepEqual(others, []);
    const args = line.split(/\s+/).filter((w) => w !== '');
    assert.deepEqual(args.slice(0, 4), ['helm', 'upgrade', 'tessera', 'charts/tessera']);
    // `upgrade --reuse-values` over a default install renders as `template` with the same --set.
    const values: string[] = [];
    const rest = args.slice(4);
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i] ?? '';
      if (arg === '--reuse-values') continue;
      if (arg === '--namespace') {
        assert.equal(rest[++i], RELEASE_NS);
        continue;
      }
      values.push(arg);
    }
    const objects = await render('tessera', RELEASE_NS, values);
    const env = operatorEnv(objects);
    assert.match(env['TESSERA_OPERATOR_KEDA_PROMETHEUS_ADDRESS'] ?? '', /^http:\/\/prometheus/);
    assert.equal(ofKind(objects, 'PodMonitor').length, 1);
    assert.ok(rules(objects).some((r) => r.resources?.includes('scaledobjects')));
  });

  it('refuses two replicas without leader election, with a message that says why', async () => {
    const run = await helm(
      'template',
      't',
      CHART,
      '--set',
      'operator.leaderElection.enabled=false',
    );
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /operator.replicas > 1 needs operator.leaderElection.enabled/);
  });
});
