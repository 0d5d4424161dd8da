// Pool: a named group of backends with a balancing policy. Owns the per-process runtime state of its
// backends (in-flight counts, health verdicts pushed in by a checker, passive ejections, draining, slow
// start). One object per pool per process, kept across reloads that keep the pool (`update`), so health,
// ejection and in-flight state carry over. Single-threaded: picks and releases run on the event loop.
import type { PoolConfig } from '../config/index.ts';
import { EdgeError, messageOf, type Clock, type HasStatus, type Logger, type TimerHandle } from '../core/index.ts';
import { PoolBackend, backendId, type DrainReason } from './backend.ts';
import { PoolLease, type LeaseOwner } from './lease.ts';
import { recordOutcome } from './passive.ts';
import { builtinBalancers } from './balancers/index.ts';
import { PickLog, type PickSnapshot } from './pick-log.ts';
import type {
  Backend, Balancer, BalanceInput, BalancerRegistry, HealthyAddress, Lease, LeaseOutcome, PickFilter,
  PoolChange, PoolChangeListener, PoolStatus,
} from './types.ts';

export interface PoolDeps {
  clock: Clock;
  logger?: Logger;
  /** Defaults to the built-in policies. */
  balancers?: BalancerRegistry;
}

/** The one filter object a pool hands its balancer on every pick (so a pick allocates nothing). */
class PoolPickFilter implements PickFilter {
  now = 0;
  tried: ReadonlySet<string> | undefined = undefined;

  usable(backend: Backend): boolean {
    return (backend as PoolBackend).available && (this.tried === undefined || !this.tried.has(backend.id));
  }
}

export class Pool implements HasStatus<PoolStatus>, LeaseOwner {
  readonly name: string;
  private config: PoolConfig;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly balancers: BalancerRegistry;
  private members: PoolBackend[] = [];
  private readonly byId = new Map<string, PoolBackend>();
  private balancer!: Balancer;
  private readonly filter = new PoolPickFilter();
  private readonly listeners = new Set<PoolChangeListener>();
  /** Ejection returns and drain-timeout removals, by backend id. */
  private readonly timers = new Map<string, TimerHandle>();
  private addresses: HealthyAddress[] | undefined;
  /** What the last picks considered (pick-log.ts): the waterfall's pick row. */
  private readonly pickLog = new PickLog();

  constructor(name: string, config: PoolConfig, deps: PoolDeps) {
    this.name = name;
    this.config = config;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.balancers = deps.balancers ?? builtinBalancers();
    this.apply(config, false);
  }

  get balance(): string {
    return this.config.balance;
  }

  get poolConfig(): PoolConfig {
    return this.config;
  }

  /** Current members, removed-but-draining ones included (in config order, those last). */
  get backends(): readonly Backend[] {
    return this.members;
  }

  backend(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  /**
   * Leases the balancer's choice among usable backends not in `tried` (ids), or returns undefined when none
   * is usable (the caller answers 503). Retries pass the ids they already tried.
   */
  pick(input: BalanceInput, tried?: ReadonlySet<string>): Lease | undefined {
    const filter = this.filter;
    filter.now = this.clock.now();
    filter.tried = tried;
    const preferred = input.preferredBackend;
    let chosen: PoolBackend | undefined;
    if (preferred !== undefined && preferred !== '') {
      const pinned = this.byId.get(preferred) ?? this.bySticky(preferred);
      if (pinned !== undefined && filter.usable(pinned)) chosen = pinned;
    }
    const preferredTaken = chosen !== undefined;
    chosen ??= this.balancer.pick(input, filter) as PoolBackend | undefined;
    this.pickLog.record(this.config.balance, this.members, chosen, preferredTaken, tried, filter.now);
    filter.tried = undefined;
    if (chosen === undefined) return undefined;
    chosen.inflight++;
    this.balancer.onTake?.(chosen);
    return new PoolLease(this, chosen);
  }

  /** The sequence number of the last pick (its candidates: copyPick); read right after pick(). */
  get lastPick(): number {
    return this.pickLog.seq;
  }

  /** Copies what pick `seq` considered into `into`; false once later picks overwrote it (pick-log.ts). */
  copyPick(seq: number, into: PickSnapshot): boolean {
    return this.pickLog.copy(seq, into);
  }

  /** The member whose stickyKey is `key` (a pool holds a handful of backends: a scan, no index to keep). */
  private bySticky(key: string): PoolBackend | undefined {
    const members = this.members;
    for (let i = 0; i < members.length; i++) if (members[i].stickyKey === key) return members[i];
    return undefined;
  }

  /**
   * `switchyard explain`: the backend pick() would lease now, without leasing it or moving the balancer;
   * 'unsupported' when the policy cannot tell without taking a turn.
   */
  peek(input: BalanceInput): Backend | undefined | 'unsupported' {
    if (this.balancer.peek === undefined) return 'unsupported';
    const filter = this.filter;
    filter.now = this.clock.now();
    return this.balancer.peek(input, filter);
  }

  /**
   * `switchyard explain`: the usable backends in the order the policy would hand them to this request —
   * its pick, then what a retry would get with that one tried, and so on (the Balancer contract) — asked
   * with peek(), so nothing moves; 'unsupported' when the policy has no peek. Allocates (admin side).
   */
  preferenceOrder(input: BalanceInput): Backend[] | 'unsupported' {
    if (this.balancer.peek === undefined) return 'unsupported';
    const filter = this.filter;
    const tried = new Set<string>();
    const order: Backend[] = [];
    filter.now = this.clock.now();
    filter.tried = tried;
    for (let i = 0; i < this.members.length; i++) {
      const next = this.balancer.peek(input, filter);
      if (next === undefined || tried.has(next.id)) break;
      order.push(next);
      tried.add(next.id);
    }
    filter.tried = undefined;
    return order;
  }

  /** One sentence on what the pool's policy does (BalancerFactory.summary), '' when it has none. */
  get policySummary(): string {
    return this.balancers.get(this.config.balance)?.summary ?? '';
  }

  /** Lease callback: in-flight counts, then passive health. */
  released(backend: PoolBackend, outcome: LeaseOutcome): void {
    backend.inflight--;
    if (this.byId.get(backend.id) !== backend) return;
    this.balancer.onRelease?.(backend, outcome);
    if (backend.drainReasons.has('removed') && backend.inflight === 0) {
      this.remove(backend);
      return;
    }
    const passive = this.config.passive;
    if (passive === undefined) return;
    const now = this.clock.now();
    const ejectFor = recordOutcome(passive, this.members, backend, outcome, now);
    if (ejectFor > 0) this.eject(backend, ejectFor, now);
  }

  /** An active health verdict (from this process's checker or pushed by the primary). False if unknown. */
  setHealth(id: string, healthy: boolean, reason: string): boolean {
    const backend = this.byId.get(id);
    if (backend === undefined) return false;
    backend.healthy = healthy;
    backend.healthReason = reason;
    if (healthy) backend.consecutiveFailures = 0;
    this.refresh(backend, reason);
    return true;
  }

  /** Admin drain / enable. Draining backends get no new leases; their in-flight ones finish. */
  setDraining(id: string, draining: boolean): boolean {
    const backend = this.byId.get(id);
    if (backend === undefined) return false;
    if (draining) backend.drainReasons.add('admin');
    else backend.drainReasons.delete('admin');
    this.refresh(backend, draining ? 'drain requested' : 'enable requested');
    return true;
  }

  /**
   * Addresses for DNS `pool:` answers: the backends healthy and not draining; when there are none, every
   * backend that is not draining (and when all drain, every backend), so a DNS answer is never empty.
   * Passive ejection does not count: it is one traffic worker's view of its own requests, and every worker
   * must answer DNS alike from the verdicts the primary pushes (active health, admin drains). Computed once
   * per change; each call returns a fresh copy the caller may keep or modify.
   */
  healthyAddresses(): HealthyAddress[] {
    if (this.addresses !== undefined) return this.addresses.slice();
    const toAddress = (backend: PoolBackend): HealthyAddress => ({ host: backend.host, port: backend.port, weight: backend.weight });
    let chosen = this.members.filter((backend) => backend.healthy && !backend.draining);
    if (chosen.length === 0) chosen = this.members.filter((backend) => !backend.draining);
    if (chosen.length === 0) chosen = this.members;
    this.addresses = chosen.map(toAddress);
    return this.addresses.slice();
  }

  status(): PoolStatus {
    const now = this.clock.now();
    return {
      name: this.name,
      balance: this.config.balance,
      usable: this.members.reduce((count, backend) => count + (backend.available ? 1 : 0), 0),
      backends: this.members.map((backend) => backend.status(now)),
    };
  }

  /** Observers (DNS, admin, metrics); returns the unsubscribe function. */
  onChange(listener: PoolChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reload: applies a new config for this same pool. Backends that remain keep their state; new ones are
   * added (ramping under slow start); removed ones drain and leave once idle or after `drain_timeout`.
   */
  update(config: PoolConfig): void {
    this.config = config;
    this.apply(config, true);
  }

  /** Cancels the pool's timers; for a pool that left the config, once its requests are done. */
  close(): void {
    for (const handle of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    this.listeners.clear();
  }

  private apply(config: PoolConfig, reload: boolean): void {
    const now = this.clock.now();
    const next: PoolBackend[] = [];
    const wanted = new Set<string>();
    for (const entry of config.backends) {
      const id = backendId(entry.address.host, entry.address.port);
      if (wanted.has(id)) continue; // the schema refuses duplicates; a second entry must not double-count
      wanted.add(id);
      let backend = this.byId.get(id);
      if (backend === undefined) {
        backend = new PoolBackend(entry.address.host, entry.address.port, entry.weight);
        if (reload) backend.rampFrom = now;
        this.byId.set(id, backend);
      } else {
        backend.weight = entry.weight;
        this.cancelTimer(id, 'remove');
      }
      backend.slowStartMs = config.slow_start ?? 0;
      backend.drainReasons.delete('removed');
      setReason(backend, 'config', entry.drain);
      next.push(backend);
    }
    for (const backend of this.members) {
      if (wanted.has(backend.id)) continue;
      if (backend.inflight === 0) {
        this.byId.delete(backend.id);
        this.cancelTimer(backend.id, 'eject');
        continue;
      }
      backend.drainReasons.add('removed');
      next.push(backend);
      if (!this.timers.has(`remove:${backend.id}`)) {
        this.setTimer(backend.id, 'remove', config.drain_timeout, () => this.remove(backend));
      }
    }
    this.members = next;
    this.balancer = this.buildBalancer(config);
    for (const backend of next) backend.refresh(now);
    this.emit({ pool: this.name, reason: reload ? 'config reloaded' : 'pool built' });
  }

  private buildBalancer(config: PoolConfig): Balancer {
    const factory = this.balancers.get(config.balance);
    if (factory === undefined) {
      throw new EdgeError('SY_ERR_POOL_BALANCE', `pool ${this.name}: no balancer named ${config.balance}`, { source: 'config' });
    }
    return factory.create(this.members, { hashKey: config.hash_key });
  }

  private remove(backend: PoolBackend): void {
    if (this.byId.get(backend.id) !== backend) return;
    this.cancelTimer(backend.id, 'remove');
    this.cancelTimer(backend.id, 'eject');
    this.byId.delete(backend.id);
    this.members = this.members.filter((member) => member !== backend);
    this.balancer = this.buildBalancer(this.config);
    this.emit({ pool: this.name, backend: backend.id, reason: 'removed after draining' });
  }

  private eject(backend: PoolBackend, ms: number, now: number): void {
    backend.ejectedUntil = now + ms;
    backend.ejections++;
    this.logger?.warn({ pool: this.name, backend: backend.id, eject_for_ms: ms }, `pool ${this.name}: backend ${backend.id} ejected after consecutive failures`);
    this.setTimer(backend.id, 'eject', ms, () => {
      backend.ejectedUntil = 0;
      backend.returnedAt = this.clock.now();
      this.logger?.info({ pool: this.name, backend: backend.id }, `pool ${this.name}: backend ${backend.id} back from ejection`);
      this.refresh(backend, 'ejection over');
    });
    this.refresh(backend, 'consecutive failures');
  }

  private refresh(backend: PoolBackend, reason: string): void {
    if (backend.refresh(this.clock.now())) this.emit({ pool: this.name, backend: backend.id, state: backend.state, reason });
  }

  private emit(change: PoolChange): void {
    this.addresses = undefined;
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        // an observer's bug must not break a pick or a release
        this.logger?.error({ pool: this.name, err: messageOf(err) }, `pool ${this.name}: change listener failed`);
      }
    }
  }

  private setTimer(id: string, kind: 'eject' | 'remove', ms: number, callback: () => void): void {
    const key = `${kind}:${id}`;
    this.cancelTimer(id, kind);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      callback();
    }, ms);
    handle.unref?.();
    this.timers.set(key, handle);
  }

  private cancelTimer(id: string, kind: 'eject' | 'remove'): void {
    const key = `${kind}:${id}`;
    const handle = this.timers.get(key);
    if (handle === undefined) return;
    this.clock.clearTimeout(handle);
    this.timers.delete(key);
  }
}

function setReason(backend: PoolBackend, reason: DrainReason, on: boolean): void {
  if (on) backend.drainReasons.add(reason);
  else backend.drainReasons.delete(reason);
}
