// Runs README.md's "Deploy your first model" block as a user would: the real AWS CLI uploads the
// model to an S3-compatible server (moto), kubectl (built from the Go module proxy) creates the
// Secret and applies the InferenceService on the real control plane, the operator (its own
// process) and the process kubelet do the rest, and curl calls the model through the Service.
//
// What the test changes, and only that: the S3 endpoint (AWS_ENDPOINT_URL for the CLI, S3_ENDPOINT
// appended to the Secret, as the README says to do for an S3-compatible store), the local port
// (a free one instead of 8080), and `kubectl port-forward`, which needs a kubelet's streaming API
// the harness does not have: the test forwards the local port to the port the Service names on
// one of the pods it selects, as port-forward does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CONTAINER_NAMES } from '@tessera/contract';
import { onnxReference } from '../../support/python-peer.js';
import { REPO_ROOT } from '../../support/server-process.js';
import { startMoto, type MotoServer } from '../../support/moto-server.js';
import {
  createNamespace,
  deleteNamespace,
  kubeconfigPath,
  serviceEndpoints,
  testClient,
} from '../support/kube.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import type { Pod } from '../support/pod-types.js';
import { ProcessKubelet } from '../support/process-kubelet.js';

const KUBECTL = process.env['TESSERA_TEST_KUBECTL'] ?? 'kubectl';
const AWS = process.env['TESSERA_AWS_CLI'] ?? 'aws';
const PORT_FORWARD = 'kubectl port-forward svc/iris-predictor 8080:80 &';

/** The first `sh` block under "## Deploy your first model" in README.md, split at port-forward. */
function readmeBlock(): { deploy: string; call: string } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Deploy your first model'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const at = block.indexOf(PORT_FORWARD);
  assert.ok(at > 0, `the README block forwards the Service's port:\n${block}`);
  return { deploy: block.slice(0, at), call: block.slice(at + PORT_FORWARD.length) };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bash(script: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** A copy of the test kubeconfig whose current context defaults to `namespace`. */
function kubeconfigFor(namespace: string, dir: string): string {
  const config = parse(readFileSync(kubeconfigPath(), 'utf8')) as {
    'current-context': string;
    contexts: { name: string; context: Record<string, unknown> }[];
  };
  for (const c of config.contexts) {
    if (c.name === config['current-context']) c.context['namespace'] = namespace;
  }
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

/** `kubectl port-forward svc/<service> <local>:<port>` done by hand: a TCP relay to one pod. */
async function forwardServicePort(
  client: ReturnType<typeof testClient>,
  namespace: string,
  service: string,
  port: number,
): Promise<{ server: Server; localPort: number }> {
  const svc = await client.request<{
    spec: { ports: { port: number; targetPort: string | number }[] };
  }>('GET', `/api/v1/namespaces/${namespace}/services/${service}`);
  const target = svc.spec.ports.find((p) => p.port === port)?.targetPort;
  assert.ok(target !== undefined, `Service ${service} has port ${String(port)}`);
  const [ip] = await serviceEndpoints(client, namespace, service);
  assert.ok(ip !== undefined, `Service ${service} selects a ready pod`);
  const pods = await client.request<{ items: Pod[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/pods`,
  );
  const pod = pods.items.find((p) => p.status?.podIP === ip);
  const containerPort =
    typeof target === 'number'
      ? target
      : pod?.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === target)
          ?.containerPort;
  assert.ok(containerPort !== undefined, `pod ${ip} has a container port named ${String(target)}`);
  const server = createServer((socket) => {
    const upstream = createConnection({ host: ip, port: containerPort });
    socket.pipe(upstream).pipe(socket);
    const close = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, localPort: address.port };
}

describe("the README's deploy-your-first-model commands, as written", { timeout: 600_000 }, () => {
  const client = testClient();
  const home = mkdtempSync(join(tmpdir(), 'tessera-readme-'));
  let ns: string;
  let moto: MotoServer;
  let kubelet: ProcessKubelet;
  let operator: OperatorProcess;
  let forward: Server | undefined;
  let env: Record<string, string>;
  const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;

  before(async () => {
    ns = await createNamespace(client, 'e2e-readme');
    moto = await startMoto();
    env = {
      PATH: [dirname(AWS), dirname(KUBECTL), process.env['PATH'] ?? ''].join(delimiter),
      HOME: home,
      KUBECONFIG: kubeconfigFor(ns, home),
      AWS_ACCESS_KEY_ID: 'readme-key',
      AWS_SECRET_ACCESS_KEY: 'readme-secret',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: moto.endpoint,
    };
    // The user's bucket exists before they follow the README.
    const mb = await bash('aws s3 mb s3://my-models', env);
    assert.equal(mb.code, 0, mb.stderr);
    // "With the operator installed (above)": the install applies the default ONNX runtime.
    const runtime = await bash(
      'kubectl apply -f crds/samples/clusterservingruntime-tessera-onnx.yaml',
      env,
    );
    assert.equal(runtime.code, 0, runtime.stderr);
    kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
    operator = await startOperator({ watchNamespace: ns });
  });

  after(async () => {
    forward?.close();
    await operator.stop();
    await kubelet.stop();
    await moto.stop();
    await deleteNamespace(client, ns);
    client.close();
  });

  it('uploads, deploys and reports the model Ready with 1/1 loaded', async () => {
    const { deploy } = readmeBlock();
    const withEndpoint = deploy.replace(
      /(--from-literal=AWS_SECRET_ACCESS_KEY="\$AWS_SECRET_ACCESS_KEY")\n/,
      `$1 --from-literal=S3_ENDPOINT=${moto.endpoint}\n`,
    );
    assert.notEqual(withEndpoint, deploy, 'the Secret command is where the README says');
    const run = await bash(withEndpoint, env);
    assert.equal(run.code, 0, `${run.stderr}\n${diagnostics()}`);
    assert.match(run.stdout, /upload: examples\/models\/iris\/model\.onnx to s3:\/\/my-models\//);
    assert.match(run.stdout, /secret\/s3-credentials created/);
    assert.match(run.stdout, /inferenceservice\.serving\.tessera\.io\/iris created/);
    assert.match(run.stdout, /inferenceservice\.serving\.tessera\.io\/iris condition met/);
    assert.match(run.stdout, /^NAME\s+URL\s+READY\s+LOADED\s+AGE$/m);
    assert.match(
      run.stdout,
      new RegExp(
        `^iris\\s+http://iris-predictor\\.${ns}\\.svc\\.cluster\\.local\\s+True\\s+1/1\\s`,
        'm',
      ),
    );
    // The credentials reached the agent only: the server container has no Secret mount.
    const [pod] = (await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${ns}/pods`))
      .items;
    assert.ok(pod, 'the iris pod');
    const mounts = (name: string): string[] =>
      (pod.spec?.containers?.find((c) => c.name === name)?.volumeMounts ?? []).map((m) => m.name);
    const secretVolumes = (pod.spec?.volumes ?? [])
      .filter((v) => (v as { secret?: unknown }).secret !== undefined)
      .map((v) => v.name);
    assert.equal(secretVolumes.length, 1);
    assert.ok(mounts(CONTAINER_NAMES.agent).includes(secretVolumes[0]!));
    assert.ok(!mounts(CONTAINER_NAMES.server).includes(secretVolumes[0]!));
  });

  it('answers the curl through the Service with the reference probabilities', async () => {
    const { call } = readmeBlock();
    const forwarded = await forwardServicePort(client, ns, 'iris-predictor', 80);
    forward = forwarded.server;
    const script = call.replaceAll('localhost:8080', `localhost:${String(forwarded.localPort)}`);
    const run = await bash(script, env);
    assert.equal(run.code, 0, run.stderr);
    const answer = JSON.parse(run.stdout) as {
      model_name: string;
      outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
    assert.equal(answer.model_name, 'iris');
    const reference = await onnxReference(
      join(REPO_ROOT, 'examples/models/iris/model.onnx'),
      { input: { data: [[5.1, 3.5, 1.4, 0.2]], datatype: 'FP32' } },
      { outputs: ['probabilities'] },
    );
    const expected = reference.outputs[0]?.data as number[];
    const got = answer.outputs.find((o) => o.name === 'probabilities');
    assert.ok(got, JSON.stringify(answer));
    assert.deepEqual(got.shape, [1, 3]);
    got.data.forEach((v, i) => {
      assert.ok(Math.abs(v - (expected[i] ?? NaN)) <= 1e-6, `probabilities[${String(i)}]`);
    });
  });
});
