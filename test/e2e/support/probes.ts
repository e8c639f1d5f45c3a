// Container probes as a kubelet runs them (pkg/kubelet/prober): httpGet and tcpSocket against
// the pod IP, with the spec's initialDelay, period, timeout and thresholds. Periods and initial
// delays may be scaled down by the harness (README, "Probe timing"); timeouts are not.
import { connect } from 'node:net';
import type { Container, Probe } from './pod-types.js';

/** The outcome of one probe run. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

function resolvePort(container: Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  if (port !== undefined && /^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (named === undefined) throw new Error(`probe port "${String(port)}" names no container port`);
  return named.containerPort;
}

async function httpGet(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<ProbeResult> {
  try {
    const res = await fetch(url, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    // prober/http: 200 <= code < 400 is success.
    const ok = res.status >= 200 && res.status < 400;
    return { ok, message: ok ? '' : `HTTP probe failed with statuscode: ${res.status}` };
  } catch (err) {
    return {
      ok: false,
      message: `Get "${url}": ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

function tcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    });
    socket.once('error', (err) => {
      resolve({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` });
    });
  });
}

/** Runs one probe against `podIP` once. exec and grpc probes are not supported (README). */
export async function runProbe(
  probe: Probe,
  container: Container,
  podIP: string,
): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.httpGet !== undefined) {
      const g = probe.httpGet;
      if ((g.scheme ?? 'HTTP') !== 'HTTP')
        return { ok: false, message: 'only HTTP probes are supported' };
      const port = resolvePort(container, g.port);
      const host = g.host ?? podIP;
      const path = g.path ?? '/';
      const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
      return await httpGet(
        `http://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`,
        headers,
        timeoutMs,
      );
    }
    if (probe.tcpSocket !== undefined) {
      return await tcp(
        probe.tcpSocket.host ?? podIP,
        resolvePort(container, probe.tcpSocket.port),
        timeoutMs,
      );
    }
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  return {
    ok: false,
    message: 'only httpGet and tcpSocket probes are supported by the process kubelet',
  };
}

/** Runs a probe periodically and turns results into a state with the spec's thresholds. */
export class ProbeWorker {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  /** Passing (readiness: ready; liveness/startup: not failed) after the thresholds. */
  state: boolean;
  lastMessage = '';

  constructor(
    private readonly probe: Probe,
    private readonly container: Container,
    private readonly podIP: string,
    private readonly timeScale: number,
    initial: boolean,
    private readonly onChange: (state: boolean) => void,
  ) {
    this.state = initial;
  }

  /** Starts probing after initialDelaySeconds. */
  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000 * this.timeScale);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const result = await runProbe(this.probe, this.container, this.podIP);
    if (this.stopped) return;
    this.lastMessage = result.message;
    if (result.ok) {
      this.failures = 0;
      this.successes++;
    } else {
      this.successes = 0;
      this.failures++;
    }
    const next =
      this.successes >= (this.probe.successThreshold ?? 1)
        ? true
        : this.failures >= (this.probe.failureThreshold ?? 3)
          ? false
          : this.state;
    if (next !== this.state) {
      this.state = next;
      this.onChange(next);
    }
    this.schedule((this.probe.periodSeconds ?? 10) * 1000 * this.timeScale);
  }
}
