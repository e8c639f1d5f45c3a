// Runs the real helm (test/peers/helm.peer.mjs) and kubectl (test/peers/kube.peer.mjs) on
// charts/tessera, with every helm folder in a temporary HOME (never the user's), and parses
// what `helm template` renders.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../../operator/src/kube/client.js';

export const ROOT = join(import.meta.dirname, '../../..');
export const CHART = join(ROOT, 'charts/tessera');
export const CA_FILE = join(import.meta.dirname, 'fixtures/test-ca.crt');
const HELM = process.env['TESSERA_TEST_HELM'] ?? 'helm';
const KUBECTL = process.env['TESSERA_TEST_KUBECTL'] ?? 'kubectl';
const HOME = mkdtempSync(join(tmpdir(), 'tessera-helm-'));

/** The value sets the tests render: the defaults and the chart's two ci/ files. */
/** The default runtimes the chart installs, in the order it renders them. */
export const CHART_RUNTIMES = [
  'tessera-onnx',
  'tessera-xgboost',
  'tessera-lightgbm',
  'tessera-sklearn',
  'tessera-python',
  'tessera-custom',
] as const;

export const VALUE_SETS = {
  default: [] as string[],
  namespaced: ['-f', join(CHART, 'ci/namespaced-values.yaml')],
  airGapped: [
    '-f',
    join(CHART, 'ci/air-gapped-values.yaml'),
    '--set-file',
    `caBundle.pem=${CA_FILE}`,
  ],
  keda: ['-f', join(CHART, 'ci/keda-values.yaml')],
} as const;

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(
  program: string,
  args: readonly string[],
  input?: string,
  kubeconfig = process.env['TESSERA_TEST_KUBECONFIG'] ?? '',
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      program,
      args,
      {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
        env: {
          PATH: process.env['PATH'],
          HOME,
          HELM_CACHE_HOME: join(HOME, 'cache'),
          HELM_CONFIG_HOME: join(HOME, 'config'),
          HELM_DATA_HOME: join(HOME, 'data'),
          KUBECONFIG: kubeconfig,
        },
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `helm <args>`; the result, whatever the exit code. */
export function helm(...args: string[]): Promise<Run> {
  return exec(HELM, args);
}

/** `helm <args>` against the control plane of `kubeconfig` (not the test run's own). */
export function helmAt(kubeconfig: string, ...args: string[]): Promise<Run> {
  return exec(HELM, args, undefined, kubeconfig);
}

/** `kubectl <args>` with `input` on stdin. */
export function kubectl(args: readonly string[], input?: string): Promise<Run> {
  return exec(KUBECTL, args, input);
}

/** Throws with helm's own words unless it exited 0. */
export function ok(run: Run, what: string): Run {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${String(run.code)}): ${run.stderr}`);
  return run;
}

/** The objects `helm template` renders for release `release` in `namespace`. */
export async function render(
  release: string,
  namespace: string,
  values: readonly string[],
): Promise<KubeObject[]> {
  const run = ok(
    await helm('template', release, CHART, '--namespace', namespace, ...values),
    'helm template',
  );
  return parseAllDocuments(run.stdout)
    .map((d) => d.toJSON() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** Objects of one kind. */
export function ofKind<T = KubeObject>(objects: readonly KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}
