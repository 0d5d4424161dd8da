// HealthChecker: the active checks of one pool. Probes each backend every `interval` (±10% jitter, so the
// checks of many pools and backends do not fall into step), bounds each probe by `timeout`, applies rise/fall
// thresholds and reports each transition once, through `onTransition` and one log line. It owns no pool:
// in production the primary runs it and pushes transitions to workers; a single process wires
// `onTransition` to `pool.setHealth`. At most one probe per backend is in flight; the next is scheduled
// from the start of the previous one, so a slow backend is probed at most once per interval.
import type { HealthConfig } from '../config/index.ts';
import { EdgeError, systemClock, type Clock, type Component, type HasStatus, type Logger, type TimerHandle } from '../core/index.ts';
import { HealthThresholds } from './thresholds.ts';
import { builtinProbes } from './probes/index.ts';
import type { HealthCheckStatus, HealthProbe, HealthTransitionListener, ProbeContext, ProbeRegistry, ProbeResult, ProbeTarget } from './types.ts';

export interface HealthCheckerOptions {
  pool: string;
  config: HealthConfig;
  backends: readonly ProbeTarget[];
  /** The pool's TLS client (see ProbeContext), for the probes that connect like the proxy does. */
  context?: ProbeContext;
  onTransition: HealthTransitionListener;
  clock?: Clock;
  logger?: Logger;
  probes?: ProbeRegistry;
  /** Uniform in [0, 1): jitter. */
  random?: () => number;
  /** Starting verdict per backend id (default healthy); lets a rebuilt checker agree with a pool's state. */
  initialHealth?: (backendId: string) => boolean | undefined;
}

/** Jitter: each wait is interval × [0.9, 1.1). The first probe comes within the first 10% of an interval. */
const jitter = 0.1;

interface Watch {
  target: ProbeTarget;
  thresholds: HealthThresholds;
  timer: TimerHandle | undefined;
  /** Set while a probe runs. */
  controller: AbortController | undefined;
  lastResult: ProbeResult | undefined;
  lastCheck: number | undefined;
  /** Transitions reported so far (metrics). */
  wentUp: number;
  wentDown: number;
}

export class HealthChecker implements Component, HasStatus<HealthCheckStatus> {
  readonly pool: string;
  private config: HealthConfig;
  private probe: HealthProbe;
  private readonly probes: ProbeRegistry;
  private readonly onTransition: HealthTransitionListener;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly random: () => number;
  private readonly initialHealth: ((backendId: string) => boolean | undefined) | undefined;
  private readonly watches = new Map<string, Watch>();
  private running = false;

  constructor(options: HealthCheckerOptions) {
    this.pool = options.pool;
    this.config = options.config;
    this.probes = options.probes ?? builtinProbes();
    this.probe = this.buildProbe(options.config, options.context);
    this.onTransition = options.onTransition;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.random = options.random ?? Math.random;
    this.initialHealth = options.initialHealth;
    this.setBackends(options.backends);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const watch of this.watches.values()) this.schedule(watch, this.random() * jitter * this.config.interval);
  }

  /** Checks have no work worth finishing: draining is stopping. */
  async drain(_deadline: number): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const watch of this.watches.values()) this.cancel(watch);
  }

  /**
   * Reload: new check settings and/or backend list. Backends that remain keep their verdict and streaks;
   * new ones start as a new checker's would; removed ones stop being probed.
   */
  update(config: HealthConfig, backends: readonly ProbeTarget[], context?: ProbeContext): void {
    this.probe = this.buildProbe(config, context);
    this.config = config;
    this.setBackends(backends);
  }

  status(): HealthCheckStatus {
    return {
      pool: this.pool,
      type: this.config.type,
      backends: [...this.watches.values()].map((watch) => ({
        id: watch.target.id,
        healthy: watch.thresholds.healthy,
        ...(watch.lastResult ? { reason: watch.lastResult.reason } : {}),
        successes: watch.thresholds.successes,
        failures: watch.thresholds.failures,
        ...(watch.lastCheck !== undefined ? { last_check: watch.lastCheck } : {}),
        transitions: { up: watch.wentUp, down: watch.wentDown },
      })),
    };
  }

  private setBackends(backends: readonly ProbeTarget[]): void {
    const wanted = new Set(backends.map((target) => target.id));
    for (const [id, watch] of this.watches) {
      if (wanted.has(id)) continue;
      this.cancel(watch);
      this.watches.delete(id);
    }
    for (const target of backends) {
      const existing = this.watches.get(target.id);
      if (existing !== undefined) {
        existing.target = target;
        continue;
      }
      const watch: Watch = {
        target,
        thresholds: new HealthThresholds(this.config.rise, this.config.fall, this.initialHealth?.(target.id) ?? true),
        timer: undefined,
        controller: undefined,
        lastResult: undefined,
        lastCheck: undefined,
        wentUp: 0,
        wentDown: 0,
      };
      this.watches.set(target.id, watch);
      if (this.running) this.schedule(watch, this.random() * jitter * this.config.interval);
    }
  }

  private buildProbe(config: HealthConfig, context: ProbeContext | undefined): HealthProbe {
    const factory = this.probes.get(config.type);
    if (factory === undefined) {
      throw new EdgeError('SY_ERR_HEALTH_PROBE', `pool ${this.pool}: no health probe for type ${config.type}`, { source: 'config' });
    }
    return factory.create(config, context);
  }

  private schedule(watch: Watch, delay: number): void {
    const handle = this.clock.setTimeout(() => {
      watch.timer = undefined;
      this.run(watch);
    }, Math.max(0, delay));
    handle.unref?.();
    watch.timer = handle;
  }

  private cancel(watch: Watch): void {
    if (watch.timer !== undefined) this.clock.clearTimeout(watch.timer);
    watch.timer = undefined;
    watch.controller?.abort();
    watch.controller = undefined;
  }

  private run(watch: Watch): void {
    if (!this.running || this.watches.get(watch.target.id) !== watch) return;
    const controller = new AbortController();
    watch.controller = controller;
    const started = this.clock.monotonic();
    const interval = this.config.interval * (1 - jitter + 2 * jitter * this.random());
    let finished = false;
    const finish = (result: ProbeResult) => {
      if (finished) return;
      finished = true;
      this.clock.clearTimeout(timeout);
      if (watch.controller !== controller) return; // stopped or replaced meanwhile
      watch.controller = undefined;
      this.record(watch, result);
      this.schedule(watch, interval - (this.clock.monotonic() - started));
    };
    const timeout = this.clock.setTimeout(() => {
      finish({ ok: false, reason: 'timeout' });
      controller.abort();
    }, this.config.timeout);
    timeout.unref?.();
    this.probe.check(watch.target, controller.signal).then(finish, (err: unknown) => finish({ ok: false, reason: `probe failed: ${String(err)}` }));
  }

  private record(watch: Watch, result: ProbeResult): void {
    watch.lastResult = result;
    watch.lastCheck = this.clock.now();
    if (!watch.thresholds.record(result.ok)) return;
    const healthy = watch.thresholds.healthy;
    if (healthy) watch.wentUp++;
    else watch.wentDown++;
    // The one log line of a transition (the control plane that hears it does not log it again): a
    // backend going down is worth a warning, one coming back is news. Stable msg, details as fields.
    const fields = { pool: this.pool, backend: watch.target.id, reason: result.reason };
    if (healthy) this.logger?.info(fields, 'backend up');
    else this.logger?.warn(fields, 'backend down');
    try {
      this.onTransition(this.pool, watch.target.id, healthy, result.reason);
    } catch (err) {
      this.logger?.error({ pool: this.pool, err: String(err) }, `pool ${this.pool}: health transition listener failed`);
    }
  }
}
