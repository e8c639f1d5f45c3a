import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeProblems } from '../../../operator/src/reconcilers/runtime-check.js';
import {
  fillPlaceholders,
  unknownPlaceholders,
} from '../../../operator/src/manifests/placeholders.js';
import { runtime } from './fixtures.js';

const reasons = (rt: Parameters<typeof runtimeProblems>[0]): string[] =>
  runtimeProblems(rt).map((p) => `${p.reason} ${p.field}`);

describe('runtimeProblems', () => {
  it('finds nothing in what restricted allows: non-root users, NET_BIND_SERVICE, emptyDir, PVC', () => {
    const ok = runtime('triton-like', {
      containers: [
        {
          name: 'kserve-container',
          securityContext: {
            runAsUser: 1000,
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
          },
          ports: [{ containerPort: 9000, name: 'h2c', protocol: 'TCP' }],
          args: ['--model_name={{.Name}}', '--ns={{ .Namespace }}', '{{index .Labels "app"}}'],
        },
      ],
      volumes: [
        { name: 'shm', emptyDir: { medium: 'Memory' } },
        { name: 'cache', persistentVolumeClaim: { claimName: 'cache' } },
      ],
      hostIPC: false,
    });
    assert.deepEqual(reasons(ok), []);
  });

  it('names each forbidden field of each container and volume', () => {
    const bad = runtime('bad', {
      containers: [
        { name: 'kserve-container', securityContext: { allowPrivilegeEscalation: true } },
        {
          name: 'sidecar',
          securityContext: {
            runAsNonRoot: false,
            capabilities: { add: ['SYS_ADMIN'] },
            seccompProfile: { type: 'Unconfined' },
          },
          ports: [{ containerPort: 80, hostPort: 80 }],
          env: [{ name: 'OWNER', value: '{{.Spec.Owner}}' }],
        },
      ],
      volumes: [{ name: 'nfs-models', nfs: { server: 'nfs.local', path: '/m' } }],
      hostIPC: true,
    });
    assert.deepEqual(reasons(bad), [
      'PrivilegedNotAllowed containers[0].securityContext.allowPrivilegeEscalation',
      'PrivilegedNotAllowed containers[1].securityContext.runAsNonRoot',
      'PrivilegedNotAllowed containers[1].securityContext.capabilities.add',
      'PrivilegedNotAllowed containers[1].securityContext.seccompProfile.type',
      'HostPortNotAllowed containers[1].ports[0].hostPort',
      'InvalidPlaceholder containers[1]',
      'VolumeTypeNotAllowed volumes[0].nfs',
      'HostNamespaceNotAllowed hostIPC',
    ]);
    const messages = runtimeProblems(bad).map((p) => p.message);
    assert.ok(messages.every((m) => m.startsWith('ServingRuntime bad: spec.')));
    assert.match(messages[2] ?? '', /adds SYS_ADMIN \(only NET_BIND_SERVICE may be added\)/);
    assert.match(messages[5] ?? '', /\(sidecar\) uses \{\{\.Spec\.Owner\}\}/);
  });
});

describe('placeholders', () => {
  const meta = {
    name: 'iris',
    namespace: 'models',
    labels: { modelClass: 'mlserver_sklearn.SKLearnModel' },
    annotations: { modelFormat: 'xgboost' },
  };

  it("fills KServe's forms in every string, nested or not, and leaves others as written", () => {
    const filled = fillPlaceholders(
      {
        args: ['--model_name={{.Name}}', '--framework={{.Annotations.modelFormat}}'],
        env: [
          { name: 'IMPL', value: '{{.Labels.modelClass}}' },
          { name: 'NS', value: '{{- .Namespace -}}/{{ index .Annotations "modelFormat" }}' },
          { name: 'MISSING', value: '[{{.Labels.absent}}]' },
          { name: 'OTHER', value: '{{.UID}}' },
        ],
        port: 8080,
      },
      meta,
    );
    assert.deepEqual(filled, {
      args: ['--model_name=iris', '--framework=xgboost'],
      env: [
        { name: 'IMPL', value: 'mlserver_sklearn.SKLearnModel' },
        { name: 'NS', value: 'models/xgboost' },
        { name: 'MISSING', value: '[]' },
        { name: 'OTHER', value: '{{.UID}}' },
      ],
      port: 8080,
    });
  });

  it('lists only the placeholders it cannot fill', () => {
    assert.deepEqual(unknownPlaceholders('{{.Name}} {{.UID}} {{.Labels.a}} {{ printf "x" }}'), [
      '{{.UID}}',
      '{{ printf "x" }}',
    ]);
  });
});
