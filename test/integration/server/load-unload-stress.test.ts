// Concurrent load/unload stress on one model (reliability-catalogue §4 C21, Triton
// test_concurrent_same_model_load_unload_stress): 32 clients, half REST and half gRPC, each doing a
// bounded number of random load/unload calls. Afterwards nothing is stuck in LOADING/UNLOADING, the
// final state is the last completed operation's, and the model and the server still work.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import { outputData, postJson, restIndex, simpleRestRequest } from './lifecycle-helpers.js';

const CLIENTS = 32;
const OPS_PER_CLIENT = 25;

type Op = 'load' | 'unload';

interface Completed {
  op: Op;
  at: number;
  client: number;
}

/** A small deterministic PRNG, so a failing run can be replayed with the same seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

void describe('concurrent load/unload stress on one model', { timeout: 120_000 }, () => {
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
    const started = performance.now();

    const client = async (index: number): Promise<void> => {
      const random = prng(seed * 131 + index);
      const grpc = index % 2 === 1 ? grpcClients[(index - 1) / 2] : undefined;
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        const op: Op = random() < 0.5 ? 'load' : 'unload';
        try {
          if (grpc === undefined) {
            const result = await postJson(`${server.httpUrl}/v2/repository/models/simple/${op}`);
            if (result.status !== 200) throw new Error(`REST ${op} answered ${result.status}: ${JSON.stringify(result.body)}`);
          } else {
            const method = op === 'load' ? 'RepositoryModelLoad' : 'RepositoryModelUnload';
            await grpc.call(method, { model_name: 'simple' }, { service: i % 2 === 0 ? 'repository' : 'inference', deadlineMs: 60_000 });
          }
          completed.push({ op, at: performance.now(), client: index });
        } catch (error) {
          failures.push(`client ${index} op ${i} ${op}: ${String(error)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    const elapsed = performance.now() - started;

    assert.deepEqual(failures, [], `seed ${seed}`);
    assert.equal(completed.length, CLIENTS * OPS_PER_CLIENT);
    assert.ok(elapsed < 60_000, `the stress phase took ${Math.round(elapsed)} ms`);

    // Nothing stuck in a transient state, for any model.
    const index = await restIndex(server.httpUrl);
    const transient = index.filter((e) => e.state === 'LOADING' || e.state === 'UNLOADING');
    assert.deepEqual(transient, [], `seed ${seed}`);
    const iris = index.find((e) => e.name === 'iris');
    assert.equal(iris?.state, 'READY', 'the other model was not disturbed');

    // Operations on one model run one at a time, in arrival order, so the model's final state is the
    // state the last completed operation left. Two operations that complete within a millisecond on
    // different connections cannot be ordered from the client side; then either answer is accepted.
    const ordered = [...completed].sort((a, b) => a.at - b.at);
    const last = ordered[ordered.length - 1]!;
    const acceptable = new Set([last.op === 'load' ? 'READY' : 'UNAVAILABLE']);
    for (const other of ordered.slice(-4, -1)) {
      if (last.at - other.at < 1) acceptable.add(other.op === 'load' ? 'READY' : 'UNAVAILABLE');
    }
    const simple = index.filter((e) => e.name === 'simple');
    assert.equal(simple.length, 1, JSON.stringify(simple));
    assert.ok(
      acceptable.has(simple[0]!.state),
      `final state ${simple[0]!.state} after a last ${last.op} (client ${last.client}), seed ${seed}`,
    );
    const modelReady = await fetch(`${server.httpUrl}/v2/models/simple/ready`);
    assert.equal(modelReady.status === 200, simple[0]!.state === 'READY', 'model readiness agrees with the index');

    // A final load and an inference work, and the server is live and ready.
    assert.equal((await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status, 200);
    const infer = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
    assert.equal(infer.status, 200, JSON.stringify(infer.body));
    assert.deepEqual(outputData(infer.body, 'OUTPUT0'), Array.from({ length: 16 }, (_, i) => i + 2));
    const grpcInfer = await grpcClients[0]!.call<{ outputs: unknown[] }>('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, () => 3) } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, () => 1) } },
      ],
    });
    assert.equal(grpcInfer.outputs.length, 2);
    assert.equal((await fetch(`${server.httpUrl}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${server.httpUrl}/v2/health/ready`)).status, 200);
    assert.deepEqual(await grpcClients[0]!.call('ServerLive', {}), { live: true });
  });
});
