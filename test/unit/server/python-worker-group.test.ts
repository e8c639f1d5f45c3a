// The pure parts of Python worker processes per environment and their custom metrics: which
// process a request goes to (least loaded, round-robin among equals, never one that does not
// serve), METRIC frame heads parsed and not trusted, and the custom metrics registry (MLServer's
// labels and prometheus_client's buckets in a real prom-client registry, names validated, a bound
// per model, no collision with the server's own metrics).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import {
  CustomMetrics,
  PROMETHEUS_CLIENT_BUCKETS,
  invalidMetricName,
} from '../../../server/src/observability/custom-metrics.js';
import { parseMetricHead } from '../../../server/src/runtime/python/metric-frames.js';
import { leastLoaded } from '../../../server/src/runtime/python/python-worker-group.js';

describe('leastLoaded', () => {
  const up = (inFlight: number) => ({ serves: true, inFlight });
  const down = (inFlight: number) => ({ serves: false, inFlight });

  it('picks the serving process with the fewest calls in flight', () => {
    assert.equal(leastLoaded([up(3), up(1), up(2)], 0), 1);
    assert.equal(leastLoaded([down(0), up(5), up(7)], 0), 1);
  });

  it('rotates among equally loaded processes from the start index', () => {
    const idle = [up(0), up(0), up(0)];
    assert.deepEqual(
      [0, 1, 2, 3].map((start) => leastLoaded(idle, start % 3)),
      [0, 1, 2, 0],
    );
  });

  it('answers undefined when no process serves', () => {
    assert.equal(leastLoaded([down(0), down(0)], 1), undefined);
    assert.equal(leastLoaded([], 0), undefined);
  });
});

describe('parseMetricHead', () => {
  it('accepts register and observe heads', () => {
    assert.deepEqual(parseMetricHead({ op: 'register', name: 'm', description: 'd', key: 'a:1' }), {
      op: 'register',
      name: 'm',
      description: 'd',
      key: 'a:1',
    });
    assert.deepEqual(parseMetricHead({ op: 'observe', name: 'm', value: 2, key: null }), {
      op: 'observe',
      name: 'm',
      value: 2,
      key: null,
    });
  });

  it('refuses anything else', () => {
    for (const head of [
      null,
      'x',
      { op: 'observe', name: 'm', value: '2', key: null },
      { op: 'delete', name: 'm', key: null },
      { op: 'register', name: 3, description: 'd', key: null },
    ]) {
      assert.equal(parseMetricHead(head), undefined, JSON.stringify(head));
    }
  });
});

describe('invalidMetricName', () => {
  it("accepts Prometheus's metric name syntax", () => {
    for (const name of ['a', '_x', 'ns:sub_metric_2', 'A1']) {
      assert.equal(invalidMetricName(name), undefined, name);
    }
  });

  it('refuses other names, saying why', () => {
    for (const name of ['', '1abc', 'bad-name', 'with space', 'é', 'x'.repeat(201)]) {
      assert.match(invalidMetricName(name) ?? '', /a metric name has/, name);
    }
  });
});

describe('CustomMetrics', () => {
  function setup(maxPerModel = 2) {
    const registry = new Registry();
    const warnings: { metric?: string; why?: string }[] = [];
    const logger = {
      info() {},
      debug() {},
      error() {},
      warn(obj: object) {
        warnings.push(obj);
      },
    };
    return { registry, warnings, metrics: new CustomMetrics({ registry, logger, maxPerModel }) };
  }
  const m1 = { name: 'm1', version: '' };

  it("exposes a histogram with MLServer's labels and prometheus_client's buckets", async () => {
    const { registry, metrics } = setup();
    metrics.register(m1, 'latency', 'Latency measured by the model');
    metrics.observe(m1, 'latency', 0.3);
    metrics.observe({ name: 'm2', version: 'v2' }, 'latency', 20);
    const text = await registry.metrics();
    assert.match(text, /# HELP latency Latency measured by the model/);
    assert.ok(text.includes('latency_count{model_name="m1",model_version=""} 1'), text);
    assert.ok(text.includes('latency_sum{model_name="m2",model_version="v2"} 20'), text);
    for (const le of PROMETHEUS_CLIENT_BUCKETS) {
      assert.ok(text.includes(`latency_bucket{le="${String(le)}",model_name="m1"`), String(le));
    }
  });

  it('creates a metric on its first observation with a default description', async () => {
    const { registry, metrics } = setup();
    metrics.observe(m1, 'seen', 1);
    assert.match(await registry.metrics(), /# HELP seen Custom metric seen/);
  });

  it('refuses invalid names, non-finite values, collisions and names over the bound, once each', async () => {
    const { registry, metrics, warnings } = setup(2);
    new Counter({ name: 'server_total', help: 'the server', registers: [registry] });
    metrics.observe(m1, 'bad-name', 1);
    metrics.observe(m1, 'bad-name', 1);
    metrics.observe(m1, 'ok', Number.NaN);
    metrics.observe(m1, 'server_total', 1);
    metrics.observe(m1, 'a', 1);
    metrics.observe(m1, 'b', 1);
    metrics.observe(m1, 'c', 1);
    // The bound is per model: another model may still create its own.
    metrics.observe({ name: 'm2', version: '' }, 'c', 1);
    assert.deepEqual(
      warnings.map((w) => w.metric),
      ['bad-name', 'ok', 'server_total', 'c'],
    );
    assert.match(warnings[3]?.why ?? '', /already has 2 custom metrics/);
    const text = await registry.metrics();
    assert.ok(text.includes('c_count{model_name="m2",model_version=""} 1'), text);
    assert.ok(!text.includes('c_count{model_name="m1"'), text);
    assert.match(text, /# TYPE server_total counter/);
  });
});
