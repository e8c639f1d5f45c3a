// Graceful shutdown of the real process (reliability-catalogue §4 C25): SIGTERM while inferences are
// in flight over REST and gRPC. Every accepted request completes with 200 / OK, readiness turns
// false (or new connections are refused), and the process exits 0.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { grpcClient } from '../../support/grpc-client.js';
import {
  REPO_ROOT,
  copyModels,
  spawnServer,
  startServer,
  type ServerProcess,
} from '../../support/server-process.js';
import { postJson, slowGrpcRequest, slowRestRequest, waitFor } from './lifecycle-helpers.js';

/** The slow model's in-flight and finished counts, from one scrape (so they agree). */
async function slowCounts(server: ServerProcess): Promise<{ inFlight: number; finished: number }> {
  const text = await (
    await fetch(`${server.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
  ).text();
  return {
    inFlight: valueOf(text, 'tessera_model_infer_in_flight'),
    finished: valueOf(text, 'tessera_model_infer_requests_total'),
  };
}

function valueOf(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes('model="slow"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** What a readiness probe sees: the status code, or 'refused' when nothing answers. */
async function readiness(server: ServerProcess): Promise<number | 'refused'> {
  try {
    const response = await fetch(`${server.httpUrl}/v2/health/ready`, {
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'refused';
  }
}

void describe('graceful shutdown', { timeout: 120_000 }, () => {
  void it('SIGTERM lets in-flight REST and gRPC inferences finish, turns readiness off and exits 0', async () => {
    // The slow fixture (a loop of n steps) runs serially in its model's worker thread, so when
    // every request has reached the core most of them are still in flight: no race with the model.
    const models = await copyModels('test/fixtures/models/slow');
    const server = await startServer({ folder: models.dir });
    const grpc = grpcClient(server.grpcAddress);
    try {
      assert.equal(await readiness(server), 200);
      const REST = 4;
      const GRPC = 4;
      const restBody = slowRestRequest(100_000);
      const grpcBody = slowGrpcRequest(100_000);
      const results: string[] = [];
      const calls = [
        ...Array.from({ length: REST }, () =>
          postJson(`${server.httpUrl}/v2/models/slow/infer`, restBody).then(
            (r) =>
              results.push(
                r.status === 200 && (r.body as { outputs: unknown[] }).outputs.length === 1
                  ? 'ok'
                  : `REST ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
              ),
            (error: unknown) => results.push(`REST ${String(error)}`),
          ),
        ),
        ...Array.from({ length: GRPC }, () =>
          grpc.call<{ outputs: unknown[] }>('ModelInfer', grpcBody, { deadlineMs: 60_000 }).then(
            (r) => results.push(r.outputs.length === 1 ? 'ok' : 'gRPC: missing outputs'),
            (error: unknown) => results.push(`gRPC ${String(error)}`),
          ),
        ),
      ];
      // Every request has reached the model (in flight or finished), and some are still running.
      let inFlight = 0;
      await waitFor(
        async () => {
          const counts = await slowCounts(server);
          inFlight = counts.inFlight;
          return counts.inFlight + counts.finished >= REST + GRPC || results.length === REST + GRPC;
        },
        'every request to reach the model',
        60_000,
      );

      const exit = server.stop();
      // Readiness turns false at once (503) or the listener is gone (connection refused); never 200 again.
      const probes: (number | 'refused')[] = [];
      let exitCode: number | null | undefined;
      void exit.then((code) => (exitCode = code));
      // The signal is handled on the server's event loop; probe once it has been received.
      await waitFor(
        () =>
          server.logs.some((l) => (l as { msg?: string }).msg === 'Received signal') ||
          exitCode !== undefined,
        'the server to receive SIGTERM',
      );
      for (let i = 0; i < 200 && exitCode === undefined; i++) {
        probes.push(await readiness(server));
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(calls);
      const code = await exit;

      assert.deepEqual(
        results.filter((r) => r !== 'ok'),
        [],
        `${results.length} results`,
      );
      assert.equal(results.length, REST + GRPC);
      assert.ok(inFlight > 0, 'some inferences were in flight when SIGTERM was sent');
      assert.ok(!probes.includes(200), `readiness after SIGTERM: ${probes.join(',')}`);
      assert.equal(code, 0, 'the process exits 0');
      assert.equal(await readiness(server), 'refused');
      const messages = server.logs.map((l) => (l as { msg?: string }).msg);
      assert.ok(messages.includes('Shutdown complete'), 'the shutdown completed in order');
      assert.ok(!messages.includes('Shutdown timed out; exiting'));
    } finally {
      grpc.close();
      await server.stop();
      await models.cleanup();
    }
  });

  void it('an idle server with idle keep-alive connections exits 0 promptly on SIGTERM', async () => {
    const server = await startServer();
    const grpc = grpcClient(server.grpcAddress);
    try {
      // Open keep-alive connections on every port, then leave them idle.
      for (let i = 0; i < 5; i++) assert.equal(await readiness(server), 200);
      await (await fetch(`${server.metricsUrl}/metrics`)).text();
      assert.deepEqual(await grpc.call('ServerReady', {}), { ready: true });
      // stop() kills after 15 s and then resolves null: exit code 0 means idle connections did not hold it.
      assert.equal(await server.stop(), 0);
    } finally {
      grpc.close();
    }
  });
});

void describe('SIGTERM with busy keep-alive connections', () => {
  void it('clients that keep sending on keep-alive connections (REST and gRPC) do not hold the shutdown', async () => {
    const server = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const grpc = grpcClient(server.grpcAddress);
    let running = true;
    const seen = new Map<string, number>();
    const count = (key: string): void => {
      seen.set(key, (seen.get(key) ?? 0) + 1);
    };
    const probe = (): Promise<string> =>
      new Promise((resolveProbe) => {
        const request = httpGet(
          `${server.httpUrl}/v2/models/simple/ready`,
          { agent, timeout: 5000 },
          (response) => {
            response.resume();
            response.on('end', () => {
              resolveProbe(`HTTP ${response.statusCode ?? 0}`);
            });
          },
        );
        request.on('error', (error: NodeJS.ErrnoException) => {
          resolveProbe(error.code ?? 'error');
        });
      });
    const rest = async (): Promise<void> => {
      for (let i = 0; i < 100_000 && running; i++) count(await probe());
    };
    const rpc = async (): Promise<void> => {
      for (let i = 0; i < 100_000 && running; i++) {
        try {
          await grpc.call('ModelReady', { name: 'simple', version: '' }, { deadlineMs: 5000 });
          count('gRPC OK');
        } catch (error) {
          count(`gRPC ${(error as { code?: number }).code ?? '?'}`);
          await new Promise((resolveWait) => setTimeout(resolveWait, 5));
        }
      }
    };
    const clients = [rest(), rest(), rpc()];
    try {
      await waitFor(
        () => (seen.get('HTTP 200') ?? 0) > 20 && (seen.get('gRPC OK') ?? 0) > 20,
        'traffic on both protocols',
      );
      const code = await server.stop();
      assert.equal(code, 0);
    } finally {
      running = false;
      await Promise.all(clients);
      grpc.close();
      agent.destroy();
    }
    // Answers are 200 before the shutdown, then 503 or a closed connection; never another error status.
    const statuses = [...seen.keys()].filter((k) => k.startsWith('HTTP '));
    assert.deepEqual(
      statuses.filter((k) => k !== 'HTTP 200' && k !== 'HTTP 503'),
      [],
      JSON.stringify([...seen]),
    );
  });
});

void describe('SIGTERM during start-up', { timeout: 60_000 }, () => {
  void it('a SIGTERM that arrives while models load shuts down cleanly (exit 0), not by the default signal action', async () => {
    // Forty copies of iris make start-up loading take a while.
    const dir = await mkdtemp(join(tmpdir(), 'tessera-many-'));
    try {
      for (let i = 0; i < 40; i++) {
        await mkdir(join(dir, `m${i}`));
        await copyFile(
          join(REPO_ROOT, 'examples/models/iris/model.onnx'),
          join(dir, `m${i}`, 'model.onnx'),
        );
        await writeFile(
          join(dir, `m${i}`, 'model-settings.json'),
          JSON.stringify({ name: `m${i}`, implementation: 'onnx' }),
        );
      }
      const child = spawnServer(dir);
      let output = '';
      let signalledBeforeReady: boolean | undefined;
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (signalledBeforeReady === undefined && output.includes('Loaded model')) {
          signalledBeforeReady = !output.includes('Server ready');
          child.kill('SIGTERM');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(
        (resolveExit) => {
          child.once('exit', (c, s) => {
            resolveExit([c, s]);
          });
        },
      );
      clearTimeout(killer);
      assert.ok(signalledBeforeReady !== undefined, `a model loaded:\n${output.slice(-2000)}`);
      assert.equal(
        signal,
        null,
        `the process was killed by ${signal ?? ''} (SIGTERM before ready: ${String(signalledBeforeReady)})`,
      );
      assert.equal(code, 0);
      assert.match(output, /Shutdown complete/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

void describe('shutdown_delay_seconds', { timeout: 60_000 }, () => {
  void it('keeps serving, unready and closing each connection, for the delay after SIGTERM, then exits 0', async () => {
    const server = await startServer({ env: { TESSERA_SHUTDOWN_DELAY_SECONDS: '3' } });
    const iris = {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    };
    let exitCode: number | null | undefined;
    try {
      assert.equal(await readiness(server), 200);
      const exit = server.stop();
      void exit.then((code) => (exitCode = code));
      await waitFor(
        () => server.logs.some((l) => (l as { msg?: string }).msg === 'Received signal'),
        'the server to receive SIGTERM',
      );
      // Until the process exits: inference answers 200 with `connection: close`, readiness 503.
      // The signal arrived at or before `signalSeen`, so the delay ends at or before 3 s after it.
      const signalSeen = Date.now();
      const answers: string[] = [];
      const sentAt: number[] = [];
      const probes: (number | 'refused')[] = [];
      for (let i = 0; i < 500 && exitCode === undefined; i++) {
        probes.push(await readiness(server));
        sentAt.push(Date.now() - signalSeen);
        try {
          const response = await fetch(`${server.httpUrl}/v2/models/iris/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(iris),
            signal: AbortSignal.timeout(2000),
          });
          await response.arrayBuffer();
          answers.push(`${response.status} ${response.headers.get('connection') ?? ''}`);
        } catch {
          answers.push('refused');
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await exit, 0, 'the process exits 0');
      const served = answers.filter((a) => a === '200 close').length;
      // The delay is 3 s and a round takes ~50 ms: far more than 10 answers come before the close.
      assert.ok(served >= 10, `answers during the delay: ${answers.join(',')}`);
      // Within the delay (sent in its first 2 s, whatever the lag in seeing the signal), every
      // inference is served and closes its connection. Once the delay is over the server closes:
      // a request then meets fastify's 503 while it closes, or a refused connection.
      const withinDelay = answers.filter((_, i) => (sentAt[i] ?? Infinity) < 2000);
      assert.ok(withinDelay.length >= 10, `answers in the delay: ${withinDelay.join(',')}`);
      assert.deepEqual(
        withinDelay.filter((a) => a !== '200 close'),
        [],
        'every answer within the delay was served and closed its connection',
      );
      const firstEnd = answers.findIndex((a) => a !== '200 close');
      assert.deepEqual(
        answers.slice(firstEnd === -1 ? answers.length : firstEnd).filter((a) => a === '200 close'),
        [],
        `nothing is served after the first refusal: ${answers.join(',')}`,
      );
      assert.ok(!probes.includes(200), `readiness after SIGTERM: ${probes.join(',')}`);
      assert.ok(probes.includes(503), 'readiness answered 503 while serving');
      const messages = server.logs.map((l) => (l as { msg?: string }).msg);
      assert.ok(messages.includes('Serving unready until the shutdown delay ends'));
      assert.ok(messages.includes('Shutdown complete'));
    } finally {
      await server.stop();
    }
  });
});
