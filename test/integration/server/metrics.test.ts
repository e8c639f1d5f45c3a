// Prometheus metrics of the real server (v2-protocol §5.2, reliability-catalogue §4 C23): exact
// per-model and per-protocol counts after known traffic on REST and gRPC, bounded labels (route
// templates, never raw model names or request ids), series kept across a reload and removed on unload.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { grpcClient, type GrpcTestClient } from '../../support/grpc-client.js';
import { startServer, type ServerProcess } from '../../support/server-process.js';
import {
  grpcCode,
  irisGrpcRawRequest,
  postJson,
  simpleGrpcRequest,
  simpleRestRequest,
  waitFor,
} from './lifecycle-helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
    )) {
      labels[key!] = value!;
    }
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

class Scrape {
  constructor(readonly samples: Sample[]) {}

  /** The sum of every sample of `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((total, s) => total + s.value, 0);
  }

  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
}

async function scrape(server: ServerProcess): Promise<Scrape> {
  const response = await fetch(`${server.metricsUrl}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
  return new Scrape(parse(await response.text()));
}

const SIMPLE = { model: 'simple', version: '' };
const INFER_ROUTE = '/v2/models/:model/infer';

void describe('metrics', () => {
  let server: ServerProcess;
  let grpc: GrpcTestClient;

  before(async () => {
    server = await startServer();
    grpc = grpcClient(server.grpcAddress);
  });

  after(async () => {
    grpc.close();
    assert.equal(await server.stop(), 0);
  });

  void it('counts successful and failed inferences per model, protocol and outcome', async () => {
    const before = await scrape(server);
    for (const name of [
      'tessera_model_infer_requests_total',
      'model_infer_request_success_total',
      'grpc_server_handled_total',
    ]) {
      assert.equal(before.sum(name, { model: 'simple' }), 0, `${name} starts at 0 for simple`);
    }

    // 3 REST successes, 1 REST failure (bad input), 1 REST 404 (unknown model).
    for (let i = 0; i < 3; i++) {
      const ok = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest(), {
        'x-request-id': `req-${i}-abc`,
      });
      assert.equal(ok.status, 200);
    }
    const bad = await postJson(`${server.httpUrl}/v2/models/simple/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [1] }],
    });
    assert.equal(bad.status, 400);
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/models/no-such-model/infer`, simpleRestRequest()))
        .status,
      404,
    );
    // 2 gRPC successes, 1 gRPC failure, 1 gRPC NOT_FOUND.
    await grpc.call('ModelInfer', simpleGrpcRequest());
    await grpc.call('ModelInfer', simpleGrpcRequest());
    const invalid = await grpcCode(
      grpc.call('ModelInfer', {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: [1] } },
        ],
      }),
    );
    assert.equal(invalid.code, status.INVALID_ARGUMENT);
    assert.equal(
      (await grpcCode(grpc.call('ModelInfer', simpleGrpcRequest('no-such-model')))).code,
      status.NOT_FOUND,
    );

    const m = await scrape(server);
    // Tessera's per-model series.
    assert.equal(m.sum('tessera_model_infer_requests_total', { ...SIMPLE, outcome: 'success' }), 5);
    assert.equal(m.sum('tessera_model_infer_requests_total', { ...SIMPLE, outcome: 'failure' }), 2);
    assert.equal(m.sum('tessera_model_infer_duration_seconds_count', SIMPLE), 7);
    assert.ok(m.sum('tessera_model_infer_duration_seconds_sum', SIMPLE) > 0);
    assert.equal(
      m.sum('tessera_model_infer_duration_seconds_bucket', { ...SIMPLE, le: '+Inf' }),
      7,
    );
    assert.equal(m.find('tessera_model_infer_in_flight', SIMPLE).length, 1);
    assert.equal(m.sum('tessera_model_infer_in_flight', SIMPLE), 0);
    // Unknown models create no per-model series.
    assert.equal(
      m.find('tessera_model_infer_requests_total', { model: 'no-such-model' }).length,
      0,
    );
    // MLServer's per-model names.
    assert.equal(m.sum('model_infer_request_success_total', SIMPLE), 5);
    assert.equal(m.sum('model_infer_request_failure_total', SIMPLE), 2);
    assert.equal(m.sum('model_infer_request_duration_count', SIMPLE), 7);

    // REST, with route templates.
    const rest = (code: string): number =>
      m.sum('rest_server_requests_total', {
        method: 'POST',
        path: INFER_ROUTE,
        status_code: code,
        app_name: 'tessera',
      });
    assert.equal(rest('200'), 3);
    assert.equal(rest('400'), 1);
    assert.equal(rest('404'), 1);
    assert.equal(
      m.sum('rest_server_request_duration_seconds_count', {
        method: 'POST',
        path: INFER_ROUTE,
        status_code: '200',
      }),
      3,
    );
    assert.equal(
      m.sum('tessera_rest_requests_total', {
        method: 'POST',
        route: INFER_ROUTE,
        status_code: '200',
      }),
      3,
    );
    assert.equal(m.sum('rest_server_requests_in_progress', { method: 'POST' }), 0);

    // gRPC.
    const grpcLabels = {
      grpc_type: 'UNARY',
      grpc_service: 'inference.GRPCInferenceService',
      grpc_method: 'ModelInfer',
    };
    assert.equal(m.sum('grpc_server_started_total', grpcLabels), 4);
    assert.equal(m.sum('grpc_server_handled_total', { ...grpcLabels, grpc_code: 'OK' }), 2);
    assert.equal(
      m.sum('grpc_server_handled_total', { ...grpcLabels, grpc_code: 'INVALID_ARGUMENT' }),
      1,
    );
    assert.equal(m.sum('grpc_server_handled_total', { ...grpcLabels, grpc_code: 'NOT_FOUND' }), 1);
    assert.equal(m.sum('grpc_server_handling_seconds_count', grpcLabels), 4);
    assert.equal(m.sum('tessera_grpc_requests_total', { method: 'ModelInfer', code: 'OK' }), 2);
  });

  void it('uses bounded labels: route templates, no raw model names, URLs or request ids', async () => {
    await fetch(`${server.httpUrl}/v2/models/simple/versions/abc123/ready`);
    await fetch(`${server.httpUrl}/v2/no/such/route/xyz-987`);
    await fetch(`${server.httpUrl}/v2/models/simple`, {
      headers: { 'x-request-id': 'unique-request-id-42' },
    });
    const m = await scrape(server);
    const families = new Set(m.samples.map((s) => s.name));
    for (const sample of m.samples) {
      for (const [key, value] of Object.entries(sample.labels)) {
        if (key === 'path' || key === 'route') {
          assert.ok(
            !/simple|iris|abc123|xyz-987|no-such/.test(value),
            `${sample.name} ${key}="${value}" is not a template`,
          );
          assert.ok(
            value.startsWith('/') || value === 'unmatched',
            `${sample.name} ${key}="${value}"`,
          );
        }
        assert.ok(
          !/req-\d-abc|unique-request-id/.test(value),
          `${sample.name} carries a request id in ${key}`,
        );
      }
    }
    const paths = new Set(m.find('rest_server_requests_total').map((s) => s.labels['path']));
    assert.ok(paths.has('/v2/models/:model/versions/:version/ready'), [...paths].join(' '));
    assert.ok(paths.has('/v2/models/:model'), [...paths].join(' '));
    // Every family uses one of the documented prefixes.
    for (const family of families) {
      assert.match(
        family,
        /^(tessera_|model_infer_|rest_server_|grpc_server_|process_|nodejs_)/,
        family,
      );
    }
  });

  void it('leaves health probes out of the REST metrics, as MLServer does', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await fetch(`${server.httpUrl}/v2/health/live`)).status, 200);
      assert.equal((await fetch(`${server.httpUrl}/v2/health/ready`)).status, 200);
    }
    assert.equal((await fetch(`${server.httpUrl}/v2/models/simple`)).status, 200);
    const m = await scrape(server);
    for (const name of [
      'rest_server_requests_total',
      'rest_server_request_duration_seconds_count',
    ]) {
      const health = m
        .find(name)
        .filter((s) => s.labels['path']?.startsWith('/v2/health') === true);
      assert.deepEqual(health, [], `${name} has no health series`);
    }
    assert.deepEqual(
      m
        .find('tessera_rest_requests_total')
        .filter((s) => s.labels['route']?.startsWith('/v2/health') === true),
      [],
    );
    assert.equal(m.sum('rest_server_requests_in_progress'), 0);
    // Other GET routes are still counted.
    assert.ok(
      m.sum('rest_server_requests_total', { method: 'GET', path: '/v2/models/:model' }) >= 1,
    );
  });

  void it("keeps a model version's series across a reload, with in-flight accounting intact", async () => {
    const before = await scrape(server);
    const successes = before.sum('tessera_model_infer_requests_total', {
      ...SIMPLE,
      outcome: 'success',
    });
    assert.ok(successes >= 5);
    // Inferences run while the model reloads several times.
    let stop = false;
    let sent = 0;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 300 && !stop; i++) {
        const r = await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest());
        assert.equal(r.status, 200);
        sent++;
      }
    };
    const workers = Array.from({ length: 6 }, () => worker());
    try {
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
          200,
        );
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const m = await scrape(server);
    assert.equal(
      m.sum('tessera_model_infer_requests_total', { ...SIMPLE, outcome: 'success' }),
      successes + sent,
      'a reload does not reset the counters',
    );
    assert.equal(m.sum('model_infer_request_success_total', SIMPLE), successes + sent);
    assert.equal(
      m.sum('tessera_model_infer_in_flight', SIMPLE),
      0,
      'the in-flight gauge is back at 0, never negative',
    );
    assert.ok(m.sum('tessera_model_load_duration_seconds_count', { model: 'simple' }) >= 6);
  });

  void it("removes a model's per-model series when it is unloaded, even with requests in flight", async () => {
    const N = 12;
    const body = irisGrpcRawRequest(100_000);
    const calls = Array.from({ length: N }, () =>
      grpc.call('ModelInfer', body, { deadlineMs: 60_000 }),
    );
    const finishedBefore = (await scrape(server)).sum('tessera_model_infer_requests_total', {
      model: 'iris',
    });
    await waitFor(
      async () => {
        const now = await scrape(server);
        return (
          now.sum('tessera_model_infer_in_flight', { model: 'iris' }) +
            now.sum('tessera_model_infer_requests_total', { model: 'iris' }) -
            finishedBefore >=
          N
        );
      },
      'every iris request to reach the model',
      30_000,
    );
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/iris/unload`)).status,
      200,
    );
    await Promise.all(calls);
    await postJson(`${server.httpUrl}/v2/repository/models/simple/unload`);

    const m = await scrape(server);
    // Load history (tessera_model_load_*) is per model name and outlives an unload by design.
    const perModel = m.samples.filter(
      (s) =>
        (s.labels['model'] === 'iris' || s.labels['model'] === 'simple') &&
        !s.name.startsWith('tessera_model_load'),
    );
    assert.deepEqual(
      perModel.map((s) => `${s.name}${JSON.stringify(s.labels)}=${s.value}`),
      [],
      'no per-model series after unload',
    );
    // Per-protocol series stay: they are not per model.
    assert.ok(
      m.sum('grpc_server_handled_total', { grpc_method: 'ModelInfer', grpc_code: 'OK' }) >= 2 + N,
    );

    // Loading the model again starts its series afresh.
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/repository/models/simple/load`)).status,
      200,
    );
    assert.equal(
      (await postJson(`${server.httpUrl}/v2/models/simple/infer`, simpleRestRequest())).status,
      200,
    );
    const again = await scrape(server);
    assert.equal(
      again.sum('tessera_model_infer_requests_total', { ...SIMPLE, outcome: 'success' }),
      1,
    );
    assert.equal(again.sum('tessera_model_infer_in_flight', SIMPLE), 0);
  });
});
