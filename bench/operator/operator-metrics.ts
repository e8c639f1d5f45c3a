// The operator's own counters, read from its metrics endpoint: reconciles, and API requests split
// into writes (every non-GET) and reads.

/** Cumulative counters of one operator process. */
export interface Counters {
  reconciles: number;
  writes: number;
  reads: number;
}

/** Reads the counters from the operator's metrics port on loopback. */
export function scrape(port: number | string): Promise<Counters> {
  return scrapeUrl(`http://127.0.0.1:${String(port)}`);
}

/** Reads the counters from the operator's metrics endpoint at `base` (`http://host:port`). */
export async function scrapeUrl(base: string): Promise<Counters> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const c: Counters = { reconciles: 0, writes: 0, reads: 0 };
  for (const line of text.split('\n')) {
    const r = /^controller_runtime_reconcile_total\{[^}]*\} (\d+)/.exec(line);
    if (r) c.reconciles += Number(r[1]);
    const w = /^rest_client_requests_total\{method="(\w+)",code="\d+"\} (\d+)/.exec(line);
    if (w && w[1] !== 'GET') c.writes += Number(w[2]);
    if (w && w[1] === 'GET') c.reads += Number(w[2]);
  }
  return c;
}
