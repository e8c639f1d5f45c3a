// Scale benchmark: N InferenceServices created at once against a real control plane
// (test/cluster), reconciled by the operator running as its own process.
// Usage: npm run bench:operator [-- --count 500 --resync 10 --workers 4 --cpu-prof DIR]
// Writes the "Operator" section of bench/RESULTS.md (the section of the same count is replaced).
// No kubelet and no agent run: the benchmark reports each Deployment available itself, so
// PredictorReady becomes True while ModelsReady stays False (ModelsNotLoaded) — status only says
// a model is loaded when a server reports it (ARCHITECTURE.md).
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Informer } from '../../operator/src/controller/informer.js';
import { PATCH, type KubeList, type KubeObject } from '../../operator/src/kube/client.js';
import { KubeConfigClient } from '../../operator/src/kube/kube-config-client.js';
import { kubeConfigFromFile } from '../../operator/src/kube/kubeconfig.js';
import { controlPlane } from './control-plane.js';
import { childCpuSeconds, cpuBetween } from './process-cpu.js';
import { scrape } from './operator-metrics.js';
import { writeResultsBlock } from './results-file.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '500' },
    resync: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
    // Directory for the operator's V8 CPU profile (node --cpu-prof), written when it stops.
    'cpu-prof': { type: 'string' },
    // File that receives the operator's log lines (JSON), for finding what it wrote.
    'operator-log': { type: 'string' },
    // File for a 30 s Go CPU profile of kube-apiserver taken while the objects converge.
    'apiserver-profile': { type: 'string' },
  },
});
const COUNT = Number(args.count);
const RESYNC_SECONDS = Number(args.resync);
const ROOT = join(import.meta.dirname, '../..');
const NS = 'bench';

async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Watches the InferenceServices and counts those that satisfy each predicate, updated per
 * event: listing 10,000 objects every poll would load the apiserver being measured.
 */
function statusTracker(
  client: KubeConfigClient,
  predicates: Record<string, (o: KubeObject) => boolean>,
): {
  count(name: string): number;
  objects(): KubeObject[];
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  const sets = new Map(Object.keys(predicates).map((n) => [n, new Set<string>()]));
  const informer = new Informer(client, {
    path: `/apis/serving.tessera.io/v1alpha1/namespaces/${NS}/inferenceservices`,
    resyncMs: 0,
    logger: pino({ level: 'warn' }),
    onEvent: (type, obj) => {
      const key = obj.metadata?.name ?? '';
      for (const [name, test] of Object.entries(predicates)) {
        const set = sets.get(name);
        if (type !== 'delete' && test(obj)) set?.add(key);
        else set?.delete(key);
      }
    },
  });
  return {
    count: (name) => sets.get(name)?.size ?? 0,
    objects: () => informer.list(),
    start: async () => {
      informer.start();
      await informer.waitForSync();
    },
    stop: () => informer.stop(),
  };
}

function condition(
  o: KubeObject,
  type: string,
): { status: string; reason?: string; observedGeneration?: number } | undefined {
  return (
    o['status'] as
      | {
          conditions?: {
            type: string;
            status: string;
            reason?: string;
            observedGeneration?: number;
          }[];
        }
      | undefined
  )?.conditions?.find((c) => c.type === type);
}

function startOperator(kubeconfig: string): Promise<{ port: number; stop(): Promise<void> }> {
  const profile =
    args['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`];
  const node = [...profile, '--import', 'tsx', join(ROOT, 'operator/src/main.ts')];
  const child = spawn(process.execPath, node, {
    env: {
      PATH: process.env['PATH'],
      TESSERA_OPERATOR_KUBECONFIG: kubeconfig,
      TESSERA_OPERATOR_WATCH_NAMESPACE: NS,
      TESSERA_OPERATOR_LEADER_ELECT: 'false',
      TESSERA_OPERATOR_RESYNC_SECONDS: String(RESYNC_SECONDS),
      TESSERA_OPERATOR_WORKERS: args.workers,
      TESSERA_OPERATOR_BIND_ADDRESS: '127.0.0.1',
      TESSERA_OPERATOR_METRICS_PORT: '0',
      TESSERA_OPERATOR_HEALTH_PORT: '0',
      TESSERA_OPERATOR_LOG_LEVEL: 'info', // "Started operator" (info) carries the metrics port
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Never leave the operator behind if the benchmark is interrupted.
  process.once('exit', () => child.kill('SIGKILL'));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => {
        resolve();
      });
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; metricsPort?: number };
      if (entry.msg === 'Started operator' && entry.metricsPort !== undefined) {
        // Drain the rest unread: parsing thousands of log lines would take CPU from the run.
        lines.close();
        const logFile = args['operator-log'];
        if (logFile === undefined) child.stdout.resume();
        else child.stdout.pipe(createWriteStream(logFile));
        resolve({ port: entry.metricsPort, stop });
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`operator exited with ${String(code)}`));
    });
  });
}

/** GETs `path` from kube-apiserver with the kubeconfig's token, as bytes (pprof, metrics). */
async function apiserverGet(kubeconfig: string, path: string): Promise<Buffer> {
  const config = JSON.parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token: string } }[];
  };
  const cluster = config.clusters[0]?.cluster;
  const token = config.users[0]?.user.token;
  if (cluster === undefined || token === undefined) throw new Error('unexpected kubeconfig');
  return new Promise<Buffer>((resolve, reject) => {
    const req = httpsRequest(
      `${cluster.server}${path}`,
      {
        headers: { authorization: `Bearer ${token}` },
        ca: Buffer.from(cluster['certificate-authority-data'], 'base64'),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve(Buffer.concat(chunks));
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Takes a CPU profile of kube-apiserver (its /debug/pprof/profile endpoint, on by default) and
 * writes it to `file`, for `go tool pprof`.
 */
async function profileApiserver(kubeconfig: string, file: string, seconds: number): Promise<void> {
  writeFileSync(
    file,
    await apiserverGet(kubeconfig, `/debug/pprof/profile?seconds=${String(seconds)}`),
  );
}

/** kube-apiserver's request counts by verb and resource (its apiserver_request_total). */
async function apiserverRequests(kubeconfig: string): Promise<Map<string, number>> {
  const text = (await apiserverGet(kubeconfig, '/metrics')).toString('utf8');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const key = `${labels['verb'] ?? ''} ${labels['resource'] ?? ''}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

const isvcBody = (name: string): KubeObject => ({
  apiVersion: 'serving.tessera.io/v1alpha1',
  kind: 'InferenceService',
  metadata: { name, namespace: NS },
  spec: {
    predictor: { model: { modelFormat: { name: 'onnx' }, storageUri: `s3://models/${name}/` } },
  },
});

/** What the Deployment controller would report once a kubelet ran the pod: available. */
async function markAvailable(client: KubeConfigClient, name: string): Promise<void> {
  const path = `/apis/apps/v1/namespaces/${NS}/deployments/${name}-predictor`;
  const d = await client.request<KubeObject>('GET', path);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await client.request('PATCH', `${path}/status`, {
    contentType: PATCH.merge,
    body: {
      status: {
        observedGeneration: d.metadata?.generation,
        replicas: 1,
        updatedReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
        conditions: [
          {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'ok',
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
  });
}

async function main(): Promise<void> {
  const plane = await controlPlane();
  const client = new KubeConfigClient(kubeConfigFromFile(plane.kubeconfig));
  const concurrency = Number(args.concurrency);
  try {
    await client.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    });
    await client.request(
      'POST',
      `/apis/serving.tessera.io/v1alpha1/namespaces/${NS}/servingruntimes`,
      {
        body: {
          apiVersion: 'serving.tessera.io/v1alpha1',
          kind: 'ServingRuntime',
          metadata: { name: 'rt', namespace: NS },
          spec: {
            protocolVersions: ['v2'],
            supportedModelFormats: [{ name: 'onnx', autoSelect: true }],
            containers: [{ name: 'kserve-container' }],
          },
        },
      },
    );
    const tracker = statusTracker(client, {
      reconciled: (o) => condition(o, 'Ready')?.observedGeneration === 1,
      predictorReady: (o) => condition(o, 'PredictorReady')?.status === 'True',
    });
    await tracker.start();
    const op = await startOperator(plane.kubeconfig);
    const isvcs = `/apis/serving.tessera.io/v1alpha1/namespaces/${NS}/inferenceservices`;
    const names = Array.from({ length: COUNT }, (_, i) => `model-${String(i).padStart(5, '0')}`);
    const c0 = await scrape(op.port);
    const cpu0 = childCpuSeconds();
    const api0 = await apiserverRequests(plane.kubeconfig);

    const profileFile = args['apiserver-profile'];
    const profiled =
      profileFile === undefined
        ? Promise.resolve()
        : profileApiserver(plane.kubeconfig, profileFile, 30).catch((err: unknown) => {
            console.error('apiserver profile failed:', err);
          });
    const t0 = Date.now();
    await pool(names, concurrency, (name) =>
      client.request('POST', isvcs, { body: isvcBody(name) }),
    );
    const created = Date.now();
    await until('statuses', () => tracker.count('reconciled') === COUNT, 600_000);
    const t1 = Date.now();
    const c1 = await scrape(op.port);
    const api1 = await apiserverRequests(plane.kubeconfig);
    await profiled;
    const cpu1 = childCpuSeconds();

    await pool(names, concurrency, (name) => markAvailable(client, name));
    const t2 = Date.now();
    await until('PredictorReady', () => tracker.count('predictorReady') === COUNT, 600_000);
    const t3 = Date.now();
    const c3 = await scrape(op.port);
    const models = new Map<string, number>();
    for (const o of tracker.objects()) {
      const c = condition(o, 'ModelsReady');
      const label = `${c?.status ?? 'absent'}/${c?.reason ?? ''}`;
      models.set(label, (models.get(label) ?? 0) + 1);
    }

    // Steady state: three resync periods with nothing changing.
    await new Promise((r) => setTimeout(r, 2000));
    const rvs = async (): Promise<string> => {
      const all = await Promise.all(
        [
          isvcs,
          `/apis/apps/v1/namespaces/${NS}/deployments`,
          `/api/v1/namespaces/${NS}/services`,
        ].map(async (p) =>
          (await client.request<KubeList>('GET', p)).items.map(
            (o) => `${o.metadata?.name ?? ''}=${o.metadata?.resourceVersion ?? ''}`,
          ),
        ),
      );
      return all.flat().sort().join(',');
    };
    const s0 = await scrape(op.port);
    const rv0 = await rvs();
    const steadyMs = RESYNC_SECONDS * 3 * 1000 + 1000;
    await new Promise((r) => setTimeout(r, steadyMs));
    const s1 = await scrape(op.port);
    const rv1 = await rvs();
    await op.stop();
    await tracker.stop();

    const sec = (ms: number): string => (ms / 1000).toFixed(1);
    const rate = (n: number, ms: number): string => (n / (ms / 1000)).toFixed(0);
    const steadyWrites = s1.writes - s0.writes;
    const convergeCpu = cpuBetween(cpu0, cpu1);
    const cpuTotal = convergeCpu.reduce((sum, [, s]) => sum + s, 0);
    const cpuShare = convergeCpu
      .filter(([, s]) => s >= 0.05)
      .map(
        ([n, s]) =>
          `${n === 'MainThread' || n === 'node' ? 'operator' : n} ${s.toFixed(1)} s (${((100 * s) / cpuTotal).toFixed(0)} %)`,
      )
      .join(', ');
    const apiRequests = [...api1]
      .map(([k, n]): [string, number] => [k, n - (api0.get(k) ?? 0)])
      .filter(([, n]) => n >= COUNT / 10)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${String(n)}`)
      .join(', ');
    const modelsReady = [...models].map(([label, n]) => `${String(n)} × ${label}`).join(', ');
    const lines = [
      `### ${String(COUNT)} InferenceServices`,
      '',
      `\`npm run bench:operator -- --count ${String(COUNT)} --workers ${args.workers} --resync ${String(RESYNC_SECONDS)}\` (${new Date().toISOString().slice(0, 10)}): ${String(COUNT)} InferenceServices created at once`,
      `(${String(concurrency)} concurrent creates) in one namespace; the operator runs as its own process with ${args.workers} workers.`,
      `Machine: ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? 'unknown'}).`,
      '',
      '| Measure | Value |',
      '|---|---|',
      `| Create ${String(COUNT)} objects (client side) | ${sec(created - t0)} s |`,
      `| **All ${String(COUNT)} reconciled** (Deployment + Service applied, status written) | **${sec(t1 - t0)} s** after the first create |`,
      `| Reconciles in that phase | ${String(c1.reconciles - c0.reconciles)} (${rate(c1.reconciles - c0.reconciles, t1 - t0)} reconciles/s) |`,
      `| API writes in that phase | ${String(c1.writes - c0.writes)} (${((c1.writes - c0.writes) / COUNT).toFixed(1)} per InferenceService) |`,
      `| Operator GETs (lists) in that phase | ${String(c1.reads - c0.reads)} |`,
      `| kube-apiserver requests in that phase (all clients, ≥ ${String(COUNT / 10)}) | ${apiRequests} |`,
      `| CPU in that phase | ${cpuShare} |`,
      `| PredictorReady=True on all after every Deployment was marked available | ${sec(t3 - t2)} s |`,
      `| Reconciles during that phase | ${String(c3.reconciles - c1.reconciles)} |`,
      `| ModelsReady (no agent reports a model) | ${modelsReady} |`,
      `| Steady state: ${sec(steadyMs)} s (3 resync periods of ${String(RESYNC_SECONDS)} s) | ${String(s1.reconciles - s0.reconciles)} reconciles, **${String(steadyWrites)} writes**, resourceVersions ${rv0 === rv1 ? 'unchanged' : 'CHANGED'} |`,
      '',
    ];
    writeResultsBlock('Operator', `${String(COUNT)} InferenceServices`, lines.join('\n'));
    console.log(lines.join('\n'));
    if (steadyWrites !== 0 || rv0 !== rv1) {
      console.error('steady state was not quiet');
      process.exitCode = 1;
    }
  } finally {
    client.close();
    await plane.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
