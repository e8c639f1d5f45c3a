// Model-lifecycle benchmark on the e2e harness: the real control plane (with the Deployment
// controller), the operator as its own process, pods run by the process kubelet (server + agent
// as local processes), artefacts from a loopback HTTP store.
// Usage: npm run build && npm run bench:lifecycle [-- --runs 10 --shared 200]
// Measures, and writes to the "Model lifecycle" section of bench/RESULTS.md:
//   - apply → Ready of one small model (iris ONNX), cold pod each time, p50/p90/max over --runs;
//   - re-driving a killed pod: delete the pod, time until a replacement serves and status is 1/1;
//   - Shared mode: --shared models applied at once, time until all are loaded, API writes per
//     model, and three resync periods of steady state (must be zero writes).
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { controlPlane } from './control-plane.js';
import { scrapeUrl } from './operator-metrics.js';
import { writeResultsBlock } from './results-file.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    shared: { type: 'string', default: '200' },
    resync: { type: 'string', default: '10' },
  },
});
const RUNS = Number(args.runs);
const SHARED = Number(args.shared);
const RESYNC_SECONDS = Number(args.resync);
const ROOT = join(import.meta.dirname, '../..');
const IRIS = join(ROOT, 'examples/models/iris/model.onnx');
const GROUP = '/apis/serving.tessera.io/v1alpha1';

const cp = await controlPlane('e2e');
process.env['TESSERA_TEST_KUBECONFIG'] = cp.kubeconfig;
// The harness modules read the kubeconfig location when they are first used.
const kube = await import('../../test/e2e/support/kube.js');
const { ProcessKubelet } = await import('../../test/e2e/support/process-kubelet.js');
const { startOperator } = await import('../../test/e2e/support/operator-process.js');
const { startStorageServer } = await import('../../test/e2e/support/storage-server.js');
type KubeObject = import('../../operator/src/kube/client.js').KubeObject;
type Pod = import('../../test/e2e/support/pod-types.js').Pod;

const client = kube.testClient();
const ns = await kube.createNamespace(client, 'bench-life');
const storage = await startStorageServer();
await storage.put('iris/model.onnx', IRIS);
await client
  .request('POST', `${GROUP}/clusterservingruntimes`, {
    body: parse(
      readFileSync(join(ROOT, 'crds/samples/clusterservingruntime-tessera-onnx.yaml'), 'utf8'),
    ) as unknown,
  })
  .catch((err: unknown) => {
    if (!/409|already exists/i.test(String(err))) throw err;
  });
const kubelet = await ProcessKubelet.start(client, { namespaces: [ns], probeTimeScale: 0.5 });
const operator = await startOperator({
  watchNamespace: ns,
  // No leader election: its Lease renewals would count as writes (one operator runs here).
  env: {
    TESSERA_OPERATOR_RESYNC_SECONDS: String(RESYNC_SECONDS),
    TESSERA_OPERATOR_LEADER_ELECT: 'false',
  },
});

const isvcs = `${GROUP}/namespaces/${ns}/inferenceservices`;
const podsPath = `/api/v1/namespaces/${ns}/pods`;
const diagnostics = (): string => `${kubelet.dumpLogs()}\n--- operator ---\n${operator.logs()}`;
const ready = (o: KubeObject | undefined): boolean =>
  (
    o?.['status'] as { conditions?: { type: string; status: string }[] } | undefined
  )?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const loaded = (o: KubeObject | undefined): string | undefined =>
  (o?.['status'] as { modelStatus?: { loaded?: string } } | undefined)?.modelStatus?.loaded;

// Shared mode packs models by declared memory onto pools of a multi-model runtime.
await client.request('POST', `${GROUP}/namespaces/${ns}/servingruntimes`, {
  body: {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: { name: 'pool' },
    spec: {
      multiModel: true,
      capacity: { memory: '1Gi' },
      protocolVersions: ['v2', 'grpc-v2'],
      supportedModelFormats: [{ name: 'onnx' }],
      containers: [
        { name: 'kserve-container', image: 'tessera/server:0.1.0', args: ['start', '/mnt/models'] },
      ],
    },
  },
});

function isvc(name: string, shared: boolean): KubeObject {
  return {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'InferenceService',
    metadata: { name, namespace: ns },
    spec: {
      ...(shared ? { deploymentMode: 'Shared' } : {}),
      predictor: {
        model: {
          modelFormat: { name: 'onnx' },
          storageUri: `${storage.url}/iris/model.onnx`,
          ...(shared ? { runtime: 'pool', resources: { requests: { memory: '16Mi' } } } : {}),
        },
      },
    },
  };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const sec = (ms: number): string => (ms / 1000).toFixed(1);

async function applyToReady(name: string): Promise<{ ready: number; podReady: number }> {
  const t0 = Date.now();
  let podReadyAt = 0;
  await client.request('POST', isvcs, { body: isvc(name, false) });
  const watchPods = kube
    .waitForObjects(
      client,
      podsPath,
      `${name} pod ready`,
      (items) => (items as Pod[]).some((p) => kube.podReady(p)),
      { timeoutMs: 300_000, diagnostics },
    )
    .then(() => (podReadyAt = Date.now()));
  await kube.waitForObject(client, isvcs, name, `${name} Ready`, ready, {
    timeoutMs: 300_000,
    diagnostics,
  });
  const readyAt = Date.now();
  await watchPods;
  return { ready: readyAt - t0, podReady: podReadyAt - t0 };
}

async function deleteAndDrain(name: string): Promise<void> {
  await client.request('DELETE', `${isvcs}/${name}`);
  await kube.waitForObjects(client, podsPath, 'no pods', (items) => items.length === 0, {
    timeoutMs: 300_000,
    diagnostics,
  });
}

try {
  // 1. apply → Ready, a cold pod every run.
  const readies: number[] = [];
  const podReadies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await applyToReady(`iris-${String(i)}`);
    readies.push(r.ready);
    podReadies.push(r.podReady);
    console.log(`run ${String(i + 1)}/${String(RUNS)}: Ready after ${sec(r.ready)} s`);
    if (i < RUNS - 1) await deleteAndDrain(`iris-${String(i)}`);
  }
  readies.sort((a, b) => a - b);
  podReadies.sort((a, b) => a - b);

  // 2. re-drive a killed pod (the last run's InferenceService is still there).
  const last = `iris-${String(RUNS - 1)}`;
  const [victim] = (await client.request<{ items: Pod[] }>('GET', podsPath)).items;
  const tKill = Date.now();
  await client.request('DELETE', `${podsPath}/${victim?.metadata?.name ?? ''}`, {
    query: { gracePeriodSeconds: '0' },
  });
  await kube.waitForObjects(
    client,
    podsPath,
    'a replacement pod ready',
    (items) =>
      (items as Pod[]).some((p) => p.metadata?.uid !== victim?.metadata?.uid && kube.podReady(p)),
    { timeoutMs: 300_000, diagnostics },
  );
  const replacementReady = Date.now() - tKill;
  await kube.waitForObject(
    client,
    isvcs,
    last,
    'served again',
    (o) => ready(o) && loaded(o) === '1/1',
    {
      timeoutMs: 300_000,
      diagnostics,
    },
  );
  const redriven = Date.now() - tKill;
  await deleteAndDrain(last);

  // 3. Shared mode: many small models at once.
  const before = await scrapeUrl(operator.metricsUrl);
  const tShared = Date.now();
  const names = Array.from({ length: SHARED }, (_, i) => `shared-${String(i)}`);
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(
      names.slice(i, i + 16).map((n) => client.request('POST', isvcs, { body: isvc(n, true) })),
    );
  }
  await kube.waitForObjects(
    client,
    isvcs,
    `all ${String(SHARED)} shared models loaded`,
    (items) =>
      items.filter((o) => o.metadata?.name?.startsWith('shared-') && ready(o)).length === SHARED,
    { timeoutMs: 1_200_000, diagnostics },
  );
  const sharedMs = Date.now() - tShared;
  const afterLoad = await scrapeUrl(operator.metricsUrl);
  const shards = (await client.request<{ items: Pod[] }>('GET', podsPath)).items.length;
  const steady0 = await scrapeUrl(operator.metricsUrl);
  const steadyFrom = Date.now();
  await new Promise((r) => setTimeout(r, 3 * RESYNC_SECONDS * 1000 + 1000));
  const steady1 = await scrapeUrl(operator.metricsUrl);
  // What the operator said it wrote at steady state (each apply and status write logs a line).
  const steadyLines = operator
    .logs()
    .split('\n')
    .filter((l) => /Applied|Updated|Event|nload|Load/.test(l))
    .filter((l) => Number(/"time":(\d+)/.exec(l)?.[1] ?? 0) >= steadyFrom);
  if (steadyLines.length > 0) console.log(`steady-state writes:\n${steadyLines.join('\n')}`);

  const block = [
    '### Apply → Ready, re-drive, Shared mode',
    '',
    `\`npm run bench:lifecycle -- --runs ${String(RUNS)} --shared ${String(SHARED)} --resync ${String(RESYNC_SECONDS)}\` (${new Date().toISOString().slice(0, 10)}). Machine: ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} at the end.`,
    '',
    '| Measure | Value |',
    '|---|---|',
    `| Apply → Ready (iris ONNX, cold pod: server + agent start, pull over HTTP, load), ${String(RUNS)} runs | p50 **${sec(quantile(readies, 0.5))} s**, p90 ${sec(quantile(readies, 0.9))} s, max ${sec(readies.at(-1) ?? NaN)} s |`,
    `| of which: apply → pod Ready (the server is ready only once the model is) | p50 ${sec(quantile(podReadies, 0.5))} s |`,
    `| Killed pod → replacement pod Ready | ${sec(replacementReady)} s |`,
    `| Killed pod → status Ready and 1/1 again (re-driven) | **${sec(redriven)} s** |`,
    `| Shared: ${String(SHARED)} models applied at once → all Ready | **${sec(sharedMs)} s** on ${String(shards)} pool pods |`,
    `| Shared: operator API writes while placing and loading | ${String(afterLoad.writes - before.writes)} (${((afterLoad.writes - before.writes) / SHARED).toFixed(1)} per model) |`,
    `| Shared: steady state, ${String(3 * RESYNC_SECONDS + 1)} s (3 resync periods) | ${String(steady1.reconciles - steady0.reconciles)} reconciles, **${String(steady1.writes - steady0.writes)} writes** |`,
    '',
  ].join('\n');
  writeResultsBlock('Model lifecycle', 'Apply → Ready, re-drive, Shared mode', block);
  console.log(block);
  if (steady1.writes !== steady0.writes) {
    console.error('steady state was not quiet');
    process.exitCode = 1;
  }
} finally {
  await operator.stop();
  await kubelet.stop();
  await storage.stop();
  await kube.deleteNamespace(client, ns);
  client.close();
  await cp.stop();
}
