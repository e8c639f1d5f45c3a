// Concurrent load/unload stress on one model (reliability-catalogue §4 C21, Triton
// test_concurrent_same_model_load_unload_stress): 32 clients, half REST and half gRPC, each doing a
// bounded number of random load/unload calls. Afterwards nothing is stuck in LOADING/UNLOADING, the
// final state is the last completed operation's, and the model and the server still work.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../../support/server-process.js';
import { outputData, postJson, restIndex, simpleRestRequest } from './lifecycle-helpers.js';

const CLIENTS = 32;
const OPS_PER_CLIENT = 25;

type Op = 'load' | 'unload';

interface Completed {
  op: Op;
  /** When the call was sent and when its answer arrived (client clock). */
  sent: number;
  at: number;
  client: number;
}

/**
 * The states the last operation on a model can have left. The server completes an operation
 * somewhere between its send and its answer, so an operation is certainly not the last one when
 * another was sent after its answer arrived; every other operation may have been the last.
 */
function acceptableStates(ops: readonly Completed[]): Set<string> {
  const candidates = ops.filter((x) => !ops.some((y) => y.sent > x.at));
  return new Set(candidates.map((c) => (c.op === 'load' ? 'READY' : 'UNAVAILABLE')));
}

/** A small deterministic PRNG, so a failing run can be replayed with the same seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

// The timeout only bounds a hung run; how long the work takes depends on the machine.
// One call waits behind up to 31 others on a loaded machine: bound it by minutes, not seconds.
const OP_TIMEOUT_MS = 300_000;
void describe('concurrent load/unload stress on one model', { timeout: 600_000 }, () => {
  let server: ServerProcess;
  const grpcClients: GrpcTestClient[] = [];

  before(async () => {
    server = await startServer();
    for (let i = 0; i < CLIENTS / 2; i++) grpcClients.push(grpcClient(server.grpcAddress));
  });

  after(async () => {
    for (const client of grpcClients) client.close();
    assert.equal(await server.stop(), 0);
  });

  void it(`${CLIENTS} clients x ${OPS_PER_CLIENT} random load/unload calls leave a consistent state`, async () => {
    const seed = Number(process.env['TESSERA_STRESS_SEED'] ?? Date.now() % 100_000);
    const completed: Completed[] = [];
    const failures: string[] = [];

    const client = async (index: number): Promise<void> => {
      const random = prng(seed * 131 + index);
      const grpc = index % 2 === 1 ? grpcClients[(index - 1) / 2] : undefined;
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        const op: Op = random() < 0.5 ? 'load' : 'unload';
        const sent = performance.now();
        try {
          if (grpc === undefined) {
            const result = await postJson(
              `${server.httpUrl}/v2/repository/models/simple/${op}`,
              undefined,
              {},
              OP_TIMEOUT_MS,
            );
            if (result.status !== 200)
              throw new Error(
                `REST ${op} answered ${result.status}: ${JSON.stringify(result.body)}`,
              );
          } else {
            const method = op === 'load' ? 'RepositoryModelLoad' : 'RepositoryModelUnload';
            await grpc.call(
              method,
              { model_name: 'simple' },
              { service: i % 2 === 0 ? 'repository' : 'inference', deadlineMs: 60_000 },
            );
          }
          completed.push({ op, sent, at: performance.now(), client: index });
        } catch (error) {
          failures.push(`client ${index} op ${i} ${op}: ${String(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.equal(completed.length, CLIENTS * OPS_PER_CLIENT);

    // Nothing stuck in a transient state, for any model.
    const index = await restIndex(server.httpUrl);
    const transient = index.filter((e) => e.state === 'LOADING' || e.state === 'UNLOADING');
    assert.deepEqual(transient, [], `seed ${seed}`);
    const iris = index.find((e) => e.name === 'iris');
    assert.equal(iris?.state, 'READY', 'the other model was not disturbed');

    // Operations on one model run one at a time, so its final state is the one the last operation
    // the server completed left.
    const acceptable = acceptableStates(completed);
    const last = [...completed]
      .sort((a, b) => a.at - b.at)
      .slice(-3)
      .map((o) => `${o.op}/c${o.client}`)
      .join(' ');
    const simple = index.filter((e) => e.name === 'simple');
    assert.equal(simple.length, 1, JSON.stringify(simple));
    assert.ok(
      acceptable.has(simple[0]!.state),
      `final state ${simple[0]!.state}, expected ${[...acceptable].join('|')} (last answers: ${last}), seed ${seed}`,
    );
    const modelReady = await fetch(`${server.httpUrl}/v2/models/simple/ready`);
    assert.equal(
      modelReady.status === 200,
      simple[0]!.state === 'READY',
      'model readiness agrees with the index',
    );

    // A final load and an inference work, and the server is live and ready.
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    const infer = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 200, JSON.stringify(infer.body));
    assert.deepEqual(
      outputData(infer.body, 'OUTPUT0'),
      Array.from({ length: 16 }, (_, i) => i + 2),
    );
    const grpcInfer = await grpcClients[0]!.call<{ outputs: unknown[] }>('ModelInfer', {
      model_name: 'simple',
      inputs: [
        {
          name: 'INPUT0',
          datatype: 'INT32',
          shape: [1, 16],
          contents: { int_contents: Array.from({ length: 16 }, () => 3) },
        },
        {
          name: 'INPUT1',
          datatype: 'INT32',
          shape: [1, 16],
          contents: { int_contents: Array.from({ length: 16 }, () => 1) },
        },
      ],
    });
    assert.equal(grpcInfer.outputs.length, 2);
    assert.equal((await fetch(`${server.httpUrl}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${server.httpUrl}/v2/health/ready`)).status, 200);
    assert.deepEqual(await grpcClients[0]!.call('ServerLive', {}), { live: true });
  });
});

void describe('concurrent load/unload stress across 10 models', { timeout: 600_000 }, () => {
  const MODELS = 10;
  let server: ServerProcess;
  let dir: string;
  const grpcClients: GrpcTestClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-stress-'));
    for (let i = 0; i < MODELS; i++) {
      await mkdir(join(dir, `s${i}`));
      await copyFile(
        join(REPO_ROOT, 'examples/models/simple/model.onnx'),
        join(dir, `s${i}`, 'model.onnx'),
      );
      await writeFile(
        join(dir, `s${i}`, 'model-settings.json'),
        JSON.stringify({ name: `s${i}`, implementation: 'onnx' }),
      );
    }
    server = await startServer({ folder: dir });
    for (let i = 0; i < CLIENTS / 2; i++) grpcClients.push(grpcClient(server.grpcAddress));
  });

  after(async () => {
    for (const client of grpcClients) client.close();
    assert.equal(await server.stop(), 0);
    await rm(dir, { recursive: true, force: true });
  });

  void it(`${CLIENTS} clients x ${OPS_PER_CLIENT} random load/unload calls over ${MODELS} models leave every model consistent`, async () => {
    const seed = Number(process.env['TESSERA_STRESS_SEED'] ?? Date.now() % 100_000);
    const completed = new Map<string, Completed[]>();
    const failures: string[] = [];
    const client = async (index: number): Promise<void> => {
      const random = prng(seed * 7919 + index);
      const grpc = index % 2 === 1 ? grpcClients[(index - 1) / 2] : undefined;
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        const model = `s${Math.floor(random() * MODELS)}`;
        const op: Op = random() < 0.5 ? 'load' : 'unload';
        const sent = performance.now();
        try {
          if (grpc === undefined) {
            const result = await postJson(
              `${server.httpUrl}/v2/repository/models/${model}/${op}`,
              undefined,
              {},
              OP_TIMEOUT_MS,
            );
            if (result.status !== 200)
              throw new Error(
                `REST ${op} answered ${result.status}: ${JSON.stringify(result.body)}`,
              );
          } else {
            await grpc.call(
              op === 'load' ? 'RepositoryModelLoad' : 'RepositoryModelUnload',
              { model_name: model },
              { service: 'repository', deadlineMs: 60_000 },
            );
          }
          const list = completed.get(model) ?? [];
          list.push({ op, sent, at: performance.now(), client: index });
          completed.set(model, list);
        } catch (error) {
          failures.push(`client ${index} op ${i} ${op} ${model}: ${String(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    assert.deepEqual(failures, [], `seed ${seed}`);

    const index = await restIndex(server.httpUrl);
    assert.deepEqual(
      index.filter((e) => e.state === 'LOADING' || e.state === 'UNLOADING'),
      [],
      `seed ${seed}`,
    );
    assert.equal(index.length, MODELS, JSON.stringify(index));
    for (const entry of index) {
      const ops = completed.get(entry.name);
      const expected = ops === undefined ? new Set(['READY']) : acceptableStates(ops);
      const tail = (ops ?? [])
        .slice(-4)
        .map((o) => `${o.op}@${o.at.toFixed(2)}/c${o.client}`)
        .join(' ');
      assert.ok(
        expected.has(entry.state),
        `${entry.name}: ${entry.state}, expected ${[...expected].join('|')} after ${tail}, seed ${seed}`,
      );
    }
    for (let i = 0; i < MODELS; i++) {
      assert.equal(
        (await postJson(`${server.httpUrl}/v2/repository/models/s${i}/load`)).status,
        200,
      );
      const infer = await postJson(`${server.httpUrl}/v2/models/s${i}/infer`, simpleRestRequest());
      assert.equal(infer.status, 200, JSON.stringify(infer.body));
    }
    assert.equal((await fetch(`${server.httpUrl}/v2/health/live`)).status, 200);
  });
});
