import type { ServingRuntime, Unsupported } from '../api/v1alpha1/index.js';
import { stringsIn, unknownPlaceholders } from '../manifests/placeholders.js';

/**
 * What a runtime asks for that Tessera will not put in a pod: anything Pod Security
 * "restricted" forbids (kubernetes.io/docs/concepts/security/pod-security-standards), which
 * every pod the operator builds meets, and placeholders it cannot fill. Each entry names the
 * runtime and the field, so the InferenceService that selected it can say exactly what to
 * change instead of getting a pod the admission controller rejects. Pure.
 */
export function runtimeProblems(runtime: ServingRuntime): Unsupported[] {
  const who = `${runtime.kind} ${runtime.metadata.name}`;
  const problem = (field: string, reason: Unsupported['reason'], why: string): Unsupported => ({
    field,
    reason,
    message: `${who}: spec.${field} ${why}`,
  });
  const out: Unsupported[] = [];
  runtime.spec.containers.forEach((c, i) => {
    const at = `containers[${String(i)}]`;
    out.push(...securityProblems(c.securityContext ?? {}, `${at}.securityContext`, problem));
    (c.ports ?? []).forEach((p, j) => {
      if (p.hostPort !== undefined && p.hostPort !== 0)
        out.push(
          problem(
            `${at}.ports[${String(j)}].hostPort`,
            'HostPortNotAllowed',
            `is ${String(p.hostPort)}; Pod Security "restricted" forbids host ports, and Tessera's pods meet it (remove hostPort)`,
          ),
        );
    });
    const unknown = [...new Set(stringsIn(c).flatMap(unknownPlaceholders))];
    if (unknown.length > 0)
      out.push(
        problem(
          at,
          'InvalidPlaceholder',
          `(${c.name}) uses ${unknown.join(', ')}; Tessera fills {{.Name}}, {{.Namespace}}, {{.Labels.<key>}} and {{.Annotations.<key>}} (or {{index .Labels "<key>"}})`,
        ),
      );
  });
  (runtime.spec.volumes ?? []).forEach((v, i) => {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type !== undefined && !RESTRICTED_VOLUME_TYPES.has(type))
      out.push(
        problem(
          `volumes[${String(i)}].${type}`,
          'VolumeTypeNotAllowed',
          `(volume ${v.name}) is a ${type} volume; Pod Security "restricted" allows only ${[...RESTRICTED_VOLUME_TYPES].join(', ')} volumes, and Tessera's pods meet it`,
        ),
      );
  });
  if (runtime.spec.hostIPC === true)
    out.push(
      problem(
        'hostIPC',
        'HostNamespaceNotAllowed',
        `is true; Pod Security "restricted" forbids sharing the host's IPC namespace, and Tessera's pods meet it (remove hostIPC; for shared memory mount an emptyDir with medium Memory at /dev/shm)`,
      ),
    );
  return out;
}

/** Volume types Pod Security "restricted" allows. */
const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** The only capability "restricted" lets a container add. */
const ALLOWED_CAPABILITY = 'NET_BIND_SERVICE';

function securityProblems(
  sc: Record<string, unknown>,
  at: string,
  problem: (field: string, reason: Unsupported['reason'], why: string) => Unsupported,
): Unsupported[] {
  const forbidden = `Pod Security "restricted" forbids it, and Tessera's pods meet it`;
  const out: Unsupported[] = [];
  const flag = (field: string, why: string): void => {
    out.push(problem(`${at}.${field}`, 'PrivilegedNotAllowed', `${why}; ${forbidden}`));
  };
  if (sc['privileged'] === true) flag('privileged', 'is true');
  if (sc['allowPrivilegeEscalation'] === true) flag('allowPrivilegeEscalation', 'is true');
  if (sc['runAsNonRoot'] === false) flag('runAsNonRoot', 'is false');
  if (sc['runAsUser'] === 0) flag('runAsUser', 'is 0 (root)');
  const caps = sc['capabilities'];
  const added =
    typeof caps === 'object' && caps !== null && Array.isArray((caps as { add?: unknown }).add)
      ? (caps as { add: unknown[] }).add.filter((c) => c !== ALLOWED_CAPABILITY)
      : [];
  if (added.length > 0)
    flag(
      'capabilities.add',
      `adds ${added.map(String).join(', ')} (only ${ALLOWED_CAPABILITY} may be added)`,
    );
  const seccomp = sc['seccompProfile'];
  if (
    typeof seccomp === 'object' &&
    seccomp !== null &&
    (seccomp as { type?: unknown }).type === 'Unconfined'
  )
    flag('seccompProfile.type', 'is Unconfined');
  if (sc['procMount'] === 'Unmasked') flag('procMount', 'is Unmasked');
  return out;
}
