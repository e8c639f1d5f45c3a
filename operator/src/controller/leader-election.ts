import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { errorMessage, isConflict, isNotFound, KubeApiError } from '../kube/errors.js';
import { RESOURCES, resourcePath } from '../kube/resources.js';

/** Options of a {@link LeaderElector}; the defaults in config.ts are client-go's 15 s / 10 s / 2 s. */
export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly leaseName: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly onStartedLeading: () => void;
  /** Called once when leadership is lost; the process should stop writing (and exit). */
  readonly onStoppedLeading: () => void;
  readonly logger: Logger;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** RFC 3339 with microseconds, as `metav1.MicroTime` serialises. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection:
 * a candidate takes the lease when it is free or when the holder has not renewed it for
 * leaseDuration, measured on the local clock since this candidate last saw the record change
 * (so clock skew between replicas does not matter). Updates carry the resourceVersion, so two
 * candidates can never both win. A leader that cannot renew within renewDeadline steps down.
 */
export class LeaderElector {
  private observedRecord = '';
  private observedAtMs = 0;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  /** Why the last attempt could not reach the Lease; undefined once it could. */
  private problem: string | undefined = 'not tried yet';

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectionOptions,
  ) {}

  /** Whether this replica holds the lease now. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Whether the last attempt reached the Lease (took it, renewed it, or saw another holder).
   * False while, say, the namespace is missing or RBAC forbids the Lease: such a replica could
   * never take over, so it must not count as a ready standby.
   */
  canLead(): boolean {
    return this.problem === undefined;
  }

  /** Starts campaigning (and, once leading, renewing). */
  start(): void {
    this.schedule(0);
  }

  /** Stops; a leader releases the lease so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      await this.release().catch((err: unknown) => {
        this.options.logger.warn({ err: errorMessage(err) }, 'Failed to release leader lease');
      });
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick();
    }, ms);
  }

  private path(name?: string): string {
    return resourcePath(RESOURCES.Lease, { namespace: this.options.namespace, name });
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    try {
      const acquired = await this.tryAcquireOrRenew(now);
      this.reportProblem(undefined);
      if (acquired) {
        this.lastRenewMs = now;
        if (!this.leading && !this.stopped) {
          this.leading = true;
          this.options.logger.info({ identity: this.options.identity }, 'Became leader');
          this.options.onStartedLeading();
        }
      }
    } catch (err) {
      this.reportProblem(err);
    }
    if (this.leading && Date.now() - this.lastRenewMs > this.options.renewDeadlineMs) {
      this.leading = false;
      this.stopped = true;
      this.options.logger.error({ identity: this.options.identity }, 'Lost leadership, stopping');
      this.options.onStoppedLeading();
      return;
    }
    this.schedule(this.options.retryPeriodMs);
  }

  /** Logs a change of problem once (not every retry period) and remembers it for canLead(). */
  private reportProblem(err: unknown): void {
    const { namespace, leaseName } = this.options;
    let problem: string | undefined;
    if (err === undefined) problem = undefined;
    else if (isNotFound(err) && errorMessage(err).includes(`namespaces "${namespace}" not found`))
      // The Lease itself is created on demand; the apiserver refuses the create in a missing
      // namespace with 404 `namespaces "<ns>" not found`.
      problem = `namespace ${namespace} does not exist: create it (kubectl apply -f deploy/operator/) or set TESSERA_OPERATOR_NAMESPACE to an existing namespace`;
    else if (err instanceof KubeApiError && err.statusCode === 403)
      problem = `forbidden: the operator's identity may not get, create and update Leases in ${namespace} (${err.message})`;
    else problem = errorMessage(err);
    if (problem === this.problem) return;
    const previous = this.problem;
    this.problem = problem;
    if (problem !== undefined)
      this.options.logger.error(
        { lease: `${namespace}/${leaseName}`, reason: problem },
        `Cannot take the leader Lease ${namespace}/${leaseName}: ${problem}`,
      );
    else if (previous !== 'not tried yet')
      this.options.logger.info(
        { lease: `${namespace}/${leaseName}` },
        'Leader Lease reachable again',
      );
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { identity, leaseDurationMs } = this.options;
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>('GET', this.path(this.options.leaseName));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return this.create(now);
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAtMs = now;
    }
    const holder = spec.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.observedAtMs + leaseDurationMs > now) return false;
    const next = this.nextSpec(spec, now);
    try {
      // PUT with the read resourceVersion: a concurrent candidate's write makes this a 409.
      await this.client.request('PUT', this.path(this.options.leaseName), {
        body: { ...lease, spec: next },
      });
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
    this.observedRecord = `${identity}|${next.renewTime ?? ''}`;
    this.observedAtMs = now;
    return true;
  }

  /** The lease record after this candidate acquires or renews it. */
  private nextSpec(spec: LeaseSpec, now: number): LeaseSpec {
    const renewing = spec.holderIdentity === this.options.identity;
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: renewing ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
    };
  }

  private async create(now: number): Promise<boolean> {
    const body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.leaseName, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    try {
      await this.client.request('POST', this.path(), { body });
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // another candidate created it first
      throw err;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.client.request<Lease>('GET', this.path(this.options.leaseName));
    if (lease.spec?.holderIdentity !== this.options.identity) return;
    await this.client.request('PUT', this.path(this.options.leaseName), {
      body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
    });
  }
}
