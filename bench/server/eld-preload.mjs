// Preloaded into the Tessera server process by the benchmark (`node --import`), never by the
// server itself: records event-loop delay with perf_hooks.monitorEventLoopDelay. On SIGUSR2 it
// writes {seq, p50_ms, p99_ms, max_ms, mean_ms} to $BENCH_ELD_FILE and resets the histogram, so
// the harness brackets each measured round with two signals.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.BENCH_ELD_FILE;
if (isMainThread && file) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let seq = 0;
  process.on('SIGUSR2', () => {
    seq += 1;
    const ms = (ns) => Math.round(ns / 1e3) / 1e3;
    const stats = {
      seq,
      p50_ms: ms(h.percentile(50)),
      p99_ms: ms(h.percentile(99)),
      max_ms: ms(h.max),
      mean_ms: ms(h.mean),
    };
    writeFileSync(file, JSON.stringify(stats));
    h.reset();
  });
}
