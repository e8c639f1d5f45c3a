// Triton's system shared-memory extension (docs/triton-extensions.md) against real clients: the
// official tritonclient (regions made with its libcshm, as Triton's simple_*_shm_client.py make
// them) and perf_analyzer `--shared-memory system`, which moves every input and output through
// regions it registers. A server without allow_client_shm refuses, saying how to enable it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { perfAnalyzeSimple, serverCounts } from '../../support/perf-analyzer.js';
import { runSystemSharedMemory, type ConformanceCheck } from '../../support/python-peer.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';

void describe('system shared memory', () => {
  let server: ServerProcess;
  let checks: ConformanceCheck[] = [];

  before(async () => {
    server = await startServer({ env: { TESSERA_ALLOW_CLIENT_SHM: 'true' } });
    checks = await runSystemSharedMemory({
      http: `127.0.0.1:${server.ports.http}`,
      grpc: `127.0.0.1:${server.ports.grpc}`,
    });
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  void it('ran every tritonclient check on both protocols, and each passed', () => {
    assert.equal(checks.length, 22, `checks run: ${checks.map((c) => c.name).join(', ')}`);
    for (const c of checks) assert.ok(c.ok, `${c.name}: ${c.detail}`);
  });

  void it('reports the extension in server metadata', async () => {
    const meta = (await (await fetch(`${server.httpUrl}/v2`)).json()) as { extensions: string[] };
    assert.ok(meta.extensions.includes('system_shared_memory'), meta.extensions.join(','));
  });

  for (const protocol of ['http', 'grpc'] as const) {
    void it(`serves perf_analyzer --shared-memory system over ${protocol}`, async () => {
      const port = protocol === 'http' ? server.ports.http : server.ports.grpc;
      const report = await perfAnalyzeSimple({
        protocol,
        url: `127.0.0.1:${port}`,
        concurrency: 1,
        requests: 20,
        extraArgs: ['--shared-memory', 'system', '--output-shared-memory-size', '64'],
      });
      const { success } = serverCounts(report);
      assert.ok(success >= 20, `server counted ${success} successful requests:\n${report}`);
      // perf_analyzer unregisters its regions when it exits.
      const status = (await (
        await fetch(`${server.httpUrl}/v2/systemsharedmemory/status`)
      ).json()) as unknown[];
      assert.deepEqual(status, [], 'no region left registered');
    });
  }
});

void describe('system shared memory, disabled (the default)', () => {
  let server: ServerProcess;

  before(async () => {
    server = await startServer();
  });

  after(async () => {
    assert.equal(await server.stop(), 0, 'server exits 0 on SIGTERM');
  });

  void it('refuses registration and names the setting', async () => {
    const res = await fetch(`${server.httpUrl}/v2/systemsharedmemory/region/r/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: '/r', offset: 0, byte_size: 8 }),
    });
    assert.equal(res.status, 501);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /allow_client_shm/);
  });

  void it('refuses an inference whose input names a region, without reading anything', async () => {
    const res = await fetch(`${server.httpUrl}/v2/models/simple/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          {
            name: 'INPUT0',
            datatype: 'INT32',
            shape: [1, 16],
            parameters: { shared_memory_region: 'r', shared_memory_byte_size: 64 },
          },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) },
        ],
      }),
    });
    assert.equal(res.status, 501);
    assert.match(((await res.json()) as { error: string }).error, /allow_client_shm/);
  });

  void it('does not list the extension', async () => {
    const meta = (await (await fetch(`${server.httpUrl}/v2`)).json()) as { extensions: string[] };
    assert.ok(!meta.extensions.includes('system_shared_memory'));
  });
});
