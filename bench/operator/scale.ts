// Scale benchmark: N InferenceServices created at once against a real control plane
// (test/cluster), reconciled by the operator running as its own process.
// Usage: npm run bench:operator [-- --count 500 --resync 10 --workers 4]
// Writes the "Operator" section of bench/RESULTS.md.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PATCH, type KubeList, type KubeObject } from '../../operator/src/kube/client.js';
import { KubeConfigClient } from '../../operator/src/kube/kube-config-client.js';
import { kubeConfigFromFile } from '../../operator/src/kube/kubeconfig.js';
import { controlPlane } from './control-plane.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '500' },
    resync: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
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

async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Counters {
  reconciles: number;
  writes: number;
}

async function scrape(port: number): Promise<Counters> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const c: Counters = { reconciles: 0, writes: 0 };
  for (const line of text.split('\n')) {
    const r = /^controller_runtime_reconcile_total\{[^}]*\} (\d+)/.exec(line);
    if (r) c.reconciles += Number(r[1]);
    const w = /^rest_client_requests_total\{method="(\w+)",code="\d+"\} (\d+)/.exec(line);
    if (w && w[1] !== 'GET') c.writes += Number(w[2]);
  }
  return c;
}

function condition(
  o: KubeObject,
  type: string,
): { status: string; observedGeneration?: number } | undefined {
  return (
    o['status'] as
      { conditions?: { type: string; status: string; observedGeneration?: number }[] } | undefined
  )?.conditions?.find((c) => c.type === type);
}

function startOperator(kubeconfig: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'operator/src/main.ts')], {
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
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; metricsPort?: number };
      if (entry.msg === 'Started operator' && entry.metricsPort !== undefined)
        resolve({ port: entry.metricsPort, stop });
    });
    child.on('exit', (code) => {
      reject(new Error(`operator exited with ${String(code)}`));
    });
  });
}

function writeResults(section: string): void {
  const file = join(ROOT, 'bench/RESULTS.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = current.indexOf('\n## Operator');
  let next = start < 0 ? -1 : current.indexOf('\n## ', start + 1);
  if (next < 0) next = current.length;
  const updated =
    start < 0
      ? `${current.trimEnd()}\n\n${section}`
      : `${current.slice(0, start).trimEnd()}\n\n${section}${current.slice(next)}`;
  writeFileSync(file, `${updated.trimEnd()}\n`);
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
    const op = await startOperator(plane.kubeconfig);
    const isvcs = `/apis/serving.tessera.io/v1alpha1/namespaces/${NS}/inferenceservices`;
    const list = async (): Promise<KubeObject[]> =>
      (await client.request<KubeList>('GET', isvcs)).items;
    const names = Array.from({ length: COUNT }, (_, i) => `model-${String(i).padStart(4, '0')}`);
    const c0 = await scrape(op.port);

    const t0 = Date.now();
    await pool(names, concurrency, (name) =>
      client.request('POST', isvcs, {
        body: {
          apiVersion: 'serving.tessera.io/v1alpha1',
          kind: 'InferenceService',
          metadata: { name, namespace: NS },
          spec: {
            predictor: {
              model: { modelFormat: { name: 'onnx' }, storageUri: `s3://models/${name}/` },
            },
          },
        },
      }),
    );
    const created = Date.now();
    await until(
      'statuses',
      async () =>
        (await list()).filter((o) => condition(o, 'Ready')?.observedGeneration === 1).length ===
        COUNT,
      600_000,
    );
    const t1 = Date.now();
    const c1 = await scrape(op.port);

    // What kubelets and the Deployment controller would report: every Deployment available.
    await pool(names, concurrency, async (name) => {
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
    });
    const t2 = Date.now();
    await until(
      'Ready',
      async () =>
        (await list()).filter((o) => condition(o, 'Ready')?.status === 'True').length === COUNT,
      600_000,
    );
    const t3 = Date.now();
    const c3 = await scrape(op.port);

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

    const sec = (ms: number): string => (ms / 1000).toFixed(1);
    const rate = (n: number, ms: number): string => (n / (ms / 1000)).toFixed(0);
    const steadyWrites = s1.writes - s0.writes;
    const lines = [
      '## Operator',
      '',
      `Scale run of \`npm run bench:operator -- --count ${COUNT}\` (${new Date().toISOString().slice(0, 10)}): ${COUNT} InferenceServices created at once`,
      `(${concurrency} concurrent creates) in one namespace, against a real kube-apiserver v1.36.3 + etcd 3.6.8 on loopback;`,
      `the operator runs as its own process with ${args.workers} workers. Machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}).`,
      '',
      '| Measure | Value |',
      '|---|---|',
      `| Create ${COUNT} objects (client side) | ${sec(created - t0)} s |`,
      `| All ${COUNT} reconciled (Deployment + Service applied, status written) | ${sec(t1 - t0)} s after the first create |`,
      `| Reconciles in that phase | ${c1.reconciles - c0.reconciles} (${rate(c1.reconciles - c0.reconciles, t1 - t0)} reconciles/s) |`,
      `| API writes in that phase | ${c1.writes - c0.writes} (${((c1.writes - c0.writes) / COUNT).toFixed(1)} per InferenceService) |`,
      `| All Ready after every Deployment was marked available | ${sec(t3 - t2)} s |`,
      `| Reconciles during the Ready phase | ${c3.reconciles - c1.reconciles} |`,
      `| Steady state: ${sec(steadyMs)} s (3 resync periods of ${RESYNC_SECONDS} s) | ${s1.reconciles - s0.reconciles} reconciles, **${steadyWrites} writes**, resourceVersions ${rv0 === rv1 ? 'unchanged' : 'CHANGED'} |`,
      '',
      'Writes are every non-GET request the operator sent (from its `rest_client_requests_total` metric).',
      "No kubelet runs, so the benchmark writes each Deployment's status the way the Deployment controller would.",
      '',
    ];
    writeResults(lines.join('\n'));
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
