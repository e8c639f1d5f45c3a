import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A named readiness or liveness check. */
export type Check = () => boolean;

/** Options of the operator's HTTP endpoints. */
export interface HealthServerOptions {
  readonly bindAddress: string;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly registry: Registry;
  readonly healthz: Record<string, Check>;
  readonly readyz: Record<string, Check>;
}

/** The running servers and their bound ports (useful with port 0). */
export interface HealthServers {
  readonly healthPort: number;
  readonly metricsPort: number;
  close(): Promise<void>;
}

function probe(checks: Record<string, Check>, res: http.ServerResponse): void {
  const failed = Object.entries(checks)
    .filter(([, check]) => !check())
    .map(([name]) => name);
  // Same shape as controller-runtime's healthz handler: "ok", or the failing checks.
  res.writeHead(failed.length === 0 ? 200 : 500, { 'content-type': 'text/plain' });
  res.end(failed.length === 0 ? 'ok' : `failed: ${failed.join(', ')}`);
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Serves `/healthz` and `/readyz` on the health port and `/metrics` on the metrics port
 * (controller-runtime's defaults are :8081 and :8080), so scraping never competes with probes.
 */
export async function startHealthServers(options: HealthServerOptions): Promise<HealthServers> {
  const health = http.createServer((req, res) => {
    if (req.url === '/healthz') probe(options.healthz, res);
    else if (req.url === '/readyz') probe(options.readyz, res);
    else res.writeHead(404).end();
  });
  const metrics = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    options.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const healthPort = await listen(health, options.healthPort, options.bindAddress);
  const metricsPort = await listen(metrics, options.metricsPort, options.bindAddress);
  const close = (s: http.Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => {
        resolve();
      });
    });
  return {
    healthPort,
    metricsPort,
    close: async () => {
      await Promise.all([close(health), close(metrics)]);
    },
  };
}
