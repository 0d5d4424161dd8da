// HealthCheckers: the checkers of every pool that has a `health:` section, kept in step with the config.
// Meant for the process that runs checks (the primary; or the only process): `apply` on start and on each
// reload keeps the checkers (and their verdicts) of pools that remain, starts new ones and stops the rest.
import type { PoolConfig } from '../config/index.ts';
import { EdgeError, type Clock, type Component, type HasStatus, type Logger } from '../core/index.ts';
import { backendId } from '../pool/index.ts';
import { HealthChecker } from './checker.ts';
import { builtinProbes } from './probes/index.ts';
import { UpstreamTlsClient } from '../tls/index.ts';
import type { HealthCheckStatus, HealthTransitionListener, ProbeContext, ProbeRegistry, ProbeTarget } from './types.ts';

export interface HealthCheckersOptions {
  onTransition: HealthTransitionListener;
  clock?: Clock;
  logger?: Logger;
  probes?: ProbeRegistry;
  random?: () => number;
  /** Starting verdict of a backend whose checker is new (e.g. what the pools already hold). */
  initialHealth?: (pool: string, backendId: string) => boolean | undefined;
}

/** The probe targets of a pool config, with the ids the pool uses. */
export function probeTargets(config: PoolConfig): ProbeTarget[] {
  return config.backends.map(({ address }) => ({ id: backendId(address.host, address.port), host: address.host, port: address.port }));
}

/** An HTTP/1.1 pool with `tls:` is probed over TLS as the proxy connects; each apply reads its CA again. */
function contextOf(name: string, config: PoolConfig, baseDir: string): ProbeContext {
  if (config.tls === undefined || config.protocol !== 'http1') return {};
  const tls = new UpstreamTlsClient(name, config.tls);
  void tls.load(baseDir);
  return { tls };
}

export class HealthCheckers implements Component, HasStatus<HealthCheckStatus[]> {
  private readonly options: HealthCheckersOptions;
  private readonly probes: ProbeRegistry;
  private readonly checkers = new Map<string, HealthChecker>();
  private running = false;

  constructor(options: HealthCheckersOptions) {
    this.options = options;
    this.probes = options.probes ?? builtinProbes();
  }

  /**
   * Builds or updates the checkers for `pools` (throws, changing nothing, if a check type has no probe).
   * `baseDir`: the directory of the config file, which pools' tls.ca paths are relative to.
   */
  apply(pools: Readonly<Record<string, PoolConfig>>, baseDir = process.cwd()): void {
    for (const [name, config] of Object.entries(pools)) {
      if (config.health !== undefined && !this.probes.has(config.health.type)) {
        throw new EdgeError('SY_ERR_HEALTH_PROBE', `pool ${name}: no health probe for type ${config.health.type}`, { source: 'config' });
      }
    }
    const next = new Map<string, HealthChecker>();
    const created: HealthChecker[] = [];
    const contexts = new Map<string, ProbeContext>();
    for (const [name, config] of Object.entries(pools)) {
      if (config.health === undefined) continue;
      contexts.set(name, contextOf(name, config, baseDir));
      const existing = this.checkers.get(name);
      if (existing !== undefined) {
        next.set(name, existing);
        continue;
      }
      const { initialHealth } = this.options;
      const checker = new HealthChecker({
        pool: name,
        config: config.health,
        backends: probeTargets(config),
        context: contexts.get(name),
        onTransition: this.options.onTransition,
        clock: this.options.clock,
        logger: this.options.logger,
        probes: this.probes,
        random: this.options.random,
        initialHealth: initialHealth === undefined ? undefined : (id) => initialHealth(name, id),
      });
      next.set(name, checker);
      created.push(checker);
    }
    for (const [name, checker] of next) {
      const config = pools[name];
      if (!created.includes(checker) && config.health !== undefined) checker.update(config.health, probeTargets(config), contexts.get(name));
    }
    for (const [name, checker] of this.checkers) if (!next.has(name)) void checker.stop();
    this.checkers.clear();
    for (const [name, checker] of next) this.checkers.set(name, checker);
    if (this.running) for (const checker of created) void checker.start();
  }

  get(pool: string): HealthChecker | undefined {
    return this.checkers.get(pool);
  }

  async start(): Promise<void> {
    this.running = true;
    for (const checker of this.checkers.values()) await checker.start();
  }

  async drain(deadline: number): Promise<void> {
    this.running = false;
    for (const checker of this.checkers.values()) await checker.drain(deadline);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const checker of this.checkers.values()) await checker.stop();
  }

  status(): HealthCheckStatus[] {
    return [...this.checkers.values()].map((checker) => checker.status());
  }
}
