// Pod IPs for the process kubelet: one loopback address per pod, so every pod can listen on the
// container ports its spec declares (8080, 8081, ...) without clashing with its neighbours.
// Linux routes all of 127.0.0.0/8 to the loopback interface, so any address in it can be bound.
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/** Resolves whether `port` can be bound on `host` right now. */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * Hands out addresses of one /24 inside 127.0.0.0/8. The /24 is chosen at random (never
 * 127.0.0.0/24, where other tests listen on 127.0.0.1), so two test runs on one machine do not
 * share pod IPs; an address whose ports are taken anyway is skipped.
 */
export class LoopbackPool {
  readonly prefix: string;
  private readonly inUse = new Set<string>();
  private next = 2;

  constructor(prefix = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`) {
    this.prefix = prefix;
  }

  /** An unused address on which every one of `ports` can be bound. */
  async allocate(ports: readonly number[]): Promise<string> {
    for (let tried = 0; tried < 253; tried++) {
      const ip = `${this.prefix}.${this.next}`;
      this.next = this.next >= 254 ? 2 : this.next + 1;
      if (this.inUse.has(ip)) continue;
      const free = await Promise.all(ports.map((p) => canBind(ip, p)));
      if (free.every(Boolean)) {
        this.inUse.add(ip);
        return ip;
      }
    }
    throw new Error(`no free pod IP left in ${this.prefix}.0/24`);
  }

  /** Returns an address to the pool (its processes have exited). */
  release(ip: string): void {
    this.inUse.delete(ip);
  }
}
