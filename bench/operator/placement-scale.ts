// Shared-mode placement at scale with simulated nodes and pods: kwok (built from the Go module
// proxy, bench/operator/kwok.mjs) plays the kubelets of --nodes Nodes on the real control plane,
// the operator (its own process) places --models Shared InferenceServices on pool shards of a
// multi-model runtime sized for --per-shard models each, and the benchmark binds each pending pod
// to a node (the control plane runs no scheduler).
// Usage: npm run build && npm run bench:placement [-- --models 1000 --per-shard 10 --nodes 10]
// kwok's pods have no processes, so no agent answers and no model loads (ModelsReady stays
// False): this measures placement, shard creation and the API traffic they cost, not loading
// (bench/operator/lifecycle.ts measures loading on real processes).
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PLACED_MODELS_ANNOTATION, POOL_LABEL } from '../../operator/src/manifests/pool.js';
import { controlPlane } from './control-plane.js';
import { scrapeUrl } from './operator-metrics.js';
import { writeResultsBlock } from './results-file.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: '1000' },
    'per-shard': { type: 'string', default: '10' },
    nodes: { type: 'string', default: '10' },
    resync: { type: 'string', default: '10' },
  },
});
const MODELS = Number(args.models);
const PER_SHARD = Number(args['per-shard']);
const NODES = Number(args.nodes);
const SHARDS = Math.ceil(MODELS / PER_SHARD);
const RESYNC_SECONDS = Number(args.resync);
const GROUP = '/apis/serving.tessera.io/v1alpha1';
const MODEL_MIB = 100;

// Plain ESM without types, as test/cluster's modules (control-plane.ts).
const { ensureKwok } = (await import(join(import.meta.dirname, 'kwok.mjs'))) as {
  ensureKwok: (log?: (m: string) => void) => Promise<{ binary: string; config: string }>;
};
const kwokPaths = await ensureKwok();
const cp = await controlPlane('e2e');
process.env['TESSERA_TEST_KUBECONFIG'] = cp.kubeconfig;
const kube = await import('../../test/e2e/support/kube.js');
const { startOperator } = await import('../../test/e2e/support/operator-process.js');
type KubeObject = import('../../operator/src/kube/client.js').KubeObject;

const client = kube.testClient();
const ns = await kube.createNamespace(client, 'bench-place');

// kwok's pod IPs come from a loopback range: the operator's calls to those "agents" are refused
// at once instead of waiting for a connect timeout.
const kwok = spawn(
  kwokPaths.binary,
  [
    '--config',
    kwokPaths.config,
    '--kubeconfig',
    cp.kubeconfig,
    '--manage-nodes-with-label-selector=type=kwok',
    '--cidr=127.64.0.0/16',
    '--node-ip=127.63.0.1',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let kwokLog = '';
kwok.stderr.on('data', (d: Buffer) => {
  kwokLog = (kwokLog + d.toString()).slice(-20_000);
});

for (let i = 0; i < NODES; i++) {
  await client.request('POST', '/api/v1/nodes', {
    body: {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `${ns}-kwok-${String(i)}`,
        labels: { type: 'kwok', 'kubernetes.io/hostname': `${ns}-kwok-${String(i)}` },
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
      },
      status: {
        allocatable: { cpu: '64', memory: '256Gi', pods: '110' },
        capacity: { cpu: '64', memory: '256Gi', pods: '110' },
      },
    },
  });
}

await client.request('POST', `${GROUP}/namespaces/${ns}/servingruntimes`, {
  body: {
    apiVersion: 'serving.tessera.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: { name: 'pool' },
    spec: {
      multiModel: true,
      capacity: { memory: `${String(PER_SHARD * MODEL_MIB)}Mi` },
      protocolVersions: ['v2', 'grpc-v2'],
      supportedModelFormats: [{ name: 'onnx' }],
      containers: [
        { name: 'kserve-container', image: 'tessera/server:0.1.0', args: ['start', '/mnt/models'] },
      ],
    },
  },
});

const operator = await startOperator({
  watchNamespace: ns,
  env: {
    TESSERA_OPERATOR_RESYNC_SECONDS: String(RESYNC_SECONDS),
    TESSERA_OPERATOR_LEADER_ELECT: 'false',
    TESSERA_OPERATOR_POOL_MAX_SHARDS: String(SHARDS + 10),
  },
  timeoutMs: 120_000,
});

// The scheduler's part: bind every pending pod, round robin over the kwok nodes.
let bound = 0;
let binding = true;
const binder = (async () => {
  while (binding) {
    const pending = await client.request<{ items: KubeObject[] }>(
      'GET',
      `/api/v1/namespaces/${ns}/pods`,
      { query: { fieldSelector: 'spec.nodeName=' } },
    );
    for (const pod of pending.items) {
      const name = pod.metadata?.name ?? '';
      await client
        .request('POST', `/api/v1/namespaces/${ns}/pods/${name}/binding`, {
          body: {
            apiVersion: 'v1',
            kind: 'Binding',
            metadata: { name, namespace: ns },
            target: { apiVersion: 'v1', kind: 'Node', name: `${ns}-kwok-${String(bound % NODES)}` },
          },
        })
        .then(() => bound++)
        .catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
})();

const deploymentsPath = `/apis/apps/v1/namespaces/${ns}/deployments`;
const shardsOf = async (): Promise<KubeObject[]> =>
  (
    await client.request<{ items: KubeObject[] }>('GET', deploymentsPath, {
      query: { labelSelector: POOL_LABEL },
    })
  ).items;
const placedCount = (shards: KubeObject[]): number =>
  shards.reduce((sum, d) => {
    const raw = d.metadata?.annotations?.[PLACED_MODELS_ANNOTATION] ?? '[]';
    return sum + (JSON.parse(raw) as string[]).length;
  }, 0);
const availableShards = (shards: KubeObject[]): number =>
  shards.filter(
    (d) =>
      ((d['status'] as { availableReplicas?: number } | undefined)?.availableReplicas ?? 0) >= 1,
  ).length;

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}\n--- kwok ---\n${kwokLog}\n--- operator ---\n${operator.logs().slice(-5000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

try {
  const before = await scrapeUrl(operator.metricsUrl);
  const t0 = Date.now();
  const names = Array.from({ length: MODELS }, (_, i) => `m-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 32) {
    await Promise.all(
      names.slice(i, i + 32).map((name) =>
        client.request('POST', `${GROUP}/namespaces/${ns}/inferenceservices`, {
          body: {
            apiVersion: 'serving.tessera.io/v1alpha1',
            kind: 'InferenceService',
            metadata: { name },
            spec: {
              deploymentMode: 'Shared',
              predictor: {
                model: {
                  modelFormat: { name: 'onnx' },
                  runtime: 'pool',
                  storageUri: 'http://127.0.0.1:9/never/model.onnx',
                  resources: { requests: { memory: `${String(MODEL_MIB)}Mi` } },
                },
              },
            },
          },
        }),
      ),
    );
  }
  const created = Date.now();
  let placedAt = 0;
  let lastCount = -1;
  await until(
    `all ${String(MODELS)} models placed`,
    async () => {
      const shards = await shardsOf();
      const count = placedCount(shards);
      if (count !== lastCount) console.log(`placed ${String(count)}/${String(MODELS)}`);
      lastCount = count;
      if (placedAt === 0 && count >= MODELS) placedAt = Date.now();
      return placedAt !== 0;
    },
    1_800_000,
  );
  const placed = await scrapeUrl(operator.metricsUrl);
  await until(
    `${String(SHARDS)} shards available`,
    async () => availableShards(await shardsOf()) >= SHARDS,
    1_800_000,
  );
  const shardsReady = Date.now();
  const shards = await shardsOf();
  const afterReady = await scrapeUrl(operator.metricsUrl);
  const perShard = shards.map(
    (d) =>
      (JSON.parse(d.metadata?.annotations?.[PLACED_MODELS_ANNOTATION] ?? '[]') as string[]).length,
  );
  const steady0 = await scrapeUrl(operator.metricsUrl);
  await new Promise((r) => setTimeout(r, 3 * RESYNC_SECONDS * 1000 + 1000));
  const steady1 = await scrapeUrl(operator.metricsUrl);
  const sec = (ms: number): string => (ms / 1000).toFixed(1);
  const block = [
    `### ${String(MODELS)} models on ${String(SHARDS)} pool pods (kwok)`,
    '',
    `\`npm run bench:placement -- --models ${String(MODELS)} --per-shard ${String(PER_SHARD)} --nodes ${String(NODES)}\` (${new Date().toISOString().slice(0, 10)}): ${String(MODELS)} Shared InferenceServices of ${String(MODEL_MIB)}Mi each on a runtime of ${String(PER_SHARD * MODEL_MIB)}Mi per server, ${String(NODES)} kwok nodes. Machine: ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} at the end.`,
    '',
    '| Measure | Value |',
    '|---|---|',
    `| Create ${String(MODELS)} objects (client side) | ${sec(created - t0)} s |`,
    `| **All ${String(MODELS)} placed** (recorded on their shards) | **${sec(placedAt - t0)} s** after the first create |`,
    `| Shards | ${String(shards.length)}, models per shard min ${String(Math.min(...perShard))} / max ${String(Math.max(...perShard))} |`,
    `| Operator API writes until all placed | ${String(placed.writes - before.writes)} (${((placed.writes - before.writes) / MODELS).toFixed(1)} per model) |`,
    `| All ${String(SHARDS)} shard pods Running and Ready (kwok) | ${sec(shardsReady - t0)} s after the first create |`,
    `| Operator API writes until then | ${String(afterReady.writes - before.writes)} (${((afterReady.writes - before.writes) / MODELS).toFixed(1)} per model) |`,
    `| Then ${String(3 * RESYNC_SECONDS + 1)} s (3 resync periods; every load keeps failing, no agent answers on kwok pods) | ${String(steady1.reconciles - steady0.reconciles)} reconciles, ${String(steady1.writes - steady0.writes)} writes |`,
    '',
  ].join('\n');
  writeResultsBlock('Model lifecycle', `${String(MODELS)} models on`, block);
  console.log(block);
} finally {
  binding = false;
  await binder;
  await operator.stop();
  kwok.kill('SIGTERM');
  await kube.deleteNamespace(client, ns);
  for (let i = 0; i < NODES; i++) {
    await client.request('DELETE', `/api/v1/nodes/${ns}-kwok-${String(i)}`).catch(() => undefined);
  }
  client.close();
  await cp.stop();
}
