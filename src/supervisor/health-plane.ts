// HealthPlane: one active checker per pool that has `health:`, run by the primary only (never one per
// worker hammering the backends). Transitions go to the control plane, which applies them to its pools
// and pushes them to the workers. On reload, checkers of pools that remain are updated in place.
import type { PoolConfig } from '../config/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import { HealthChecker, type HealthTransitionListener } from '../health/index.ts';
import type { PoolRegistry } from '../pool/index.ts';

export interface HealthPlaneOptions {
  logger: Logger;
  clock: Clock;
  onTransition: HealthTransitionListener;
}

export class HealthPlane {
  private readonly options: HealthPlaneOptions;
  private readonly checkers = new Map<string, HealthChecker>();

  constructor(options: HealthPlaneOptions) {
    this.options = options;
  }

  apply(pools: Readonly<Record<string, PoolConfig>>, registry: PoolRegistry): void {
    for (const [name, checker] of this.checkers) {
      if (!pools[name]?.health) {
        void checker.stop();
        this.checkers.delete(name);
      }
    }
    for (const [name, config] of Object.entries(pools)) {
      if (!config.health) continue;
      const targets = config.backends.map((backend) => ({ id: `${backend.address.host}:${backend.address.port}`, host: backend.address.host, port: backend.address.port }));
      const existing = this.checkers.get(name);
      if (existing) {
        existing.update(config.health, targets);
        continue;
      }
      const pool = registry.get(name);
      const checker = new HealthChecker({
        pool: name,
        config: config.health,
        backends: targets,
        onTransition: this.options.onTransition,
        clock: this.options.clock,
        logger: this.options.logger,
        initialHealth: (id) => {
          const state = pool?.backend(id)?.state;
          return state === undefined ? undefined : state !== 'unhealthy';
        },
      });
      this.checkers.set(name, checker);
      void checker.start();
    }
  }

  status(): unknown[] {
    return [...this.checkers.values()].map((checker) => checker.status());
  }

  stop(): void {
    for (const checker of this.checkers.values()) void checker.stop();
    this.checkers.clear();
  }
}
