// A closed-loop gRPC load client: `concurrency` lanes on one HTTP/2 channel, each sending a
// pre-encoded ModelInferRequest as soon as its previous call returned, for `seconds`. Bytes are
// sent and received without (de)serialisation, so the client spends its CPU on HTTP/2 only.
//   node bench/server/grpc-load.mjs '{"target":"127.0.0.1:P","requestFile":"...","concurrency":10,"seconds":10}'
// Prints one line: BENCH_JSON {"requests","errors","firstError","seconds","p50_us","p99_us","mean_us"}.
import { readFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import { MODEL_INFER } from './proto.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const request = readFileSync(config.requestFile);
const concurrency = Math.max(1, Math.min(1000, Number(config.concurrency) || 1));
const seconds = Math.max(0.1, Math.min(3600, Number(config.seconds) || 1));
const client = new grpc.Client(config.target, grpc.credentials.createInsecure(), {
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
  ...(config.flowControlWindow
    ? { 'grpc-node.flow_control_window': config.flowControlWindow }
    : {}),
});
const identity = (b) => b;
const latencies = [];
let errors = 0;
let firstError;
const started = process.hrtime.bigint();
const deadlineNs = started + BigInt(Math.round(seconds * 1e9));

function lane() {
  return new Promise((resolve) => {
    const next = () => {
      const t0 = process.hrtime.bigint();
      if (t0 >= deadlineNs) {
        resolve();
        return;
      }
      client.makeUnaryRequest(
        MODEL_INFER,
        identity,
        identity,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, reply) => {
          const t1 = process.hrtime.bigint();
          if (err || !reply || reply.length === 0) {
            errors += 1;
            firstError ??= err ? `${err.code} ${err.details}` : 'empty reply';
          } else latencies.push(Number(t1 - t0) / 1000);
          next();
        },
      );
    };
    next();
  });
}

await new Promise((resolve, reject) =>
  client.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
);
await Promise.all(Array.from({ length: concurrency }, lane));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
client.close();
latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies.length
    ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]
    : 0;
const mean = latencies.reduce((s, v) => s + v, 0) / Math.max(1, latencies.length);
console.log(
  `BENCH_JSON ${JSON.stringify({ requests: latencies.length, errors, firstError, seconds: elapsed, p50_us: pct(50), p99_us: pct(99), mean_us: mean })}`,
);
