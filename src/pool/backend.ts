// PoolBackend: one upstream address and the runtime state the pool keeps for it. The state is split into
// independent flags (health from active checks, ejection from passive checks, draining from admin/config/
// reload) so that one source never overwrites another; `state` is derived from them.
import { createHash } from 'node:crypto';
import type { Backend, BackendState, BackendStatus } from './types.ts';

/** Slow start begins at this fraction of the configured weight and climbs linearly to 1. */
export const slowStartFloor = 0.1;

/** Why a backend is draining; it drains while any reason holds. */
export type DrainReason = 'config' | 'admin' | 'removed';

export function backendId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * An opaque, stable name of a backend for clients to carry (the `sticky` filter's cookie): the same in every
 * worker and across restarts, and it does not reveal the backend's address.
 */
export function stickyKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 16);
}

export class PoolBackend implements Backend {
  readonly id: string;
  /** stickyKey(id), computed once. */
  readonly stickyKey: string;
  readonly host: string;
  readonly port: number;
  weight: number;
  inflight = 0;

  /** Active health verdict (true until a checker says otherwise). */
  healthy = true;
  healthReason: string | undefined;
  /** Passive outlier detection: epoch ms the current ejection ends; 0 when not ejected. */
  ejectedUntil = 0;
  /** Ejections in total, for status. */
  ejections = 0;
  /** Ejection multiplier: grows with each ejection, decays while the backend behaves. */
  ejectionLevel = 0;
  /** When the current ejection ended (for decaying `ejectionLevel`). */
  returnedAt = 0;
  consecutiveFailures = 0;
  readonly drainReasons = new Set<DrainReason>();

  /** Slow start window (ms; 0 = none) and when the backend last became usable. */
  slowStartMs = 0;
  rampFrom = -Infinity;

  /** Cached `state === 'healthy'`: read by every pick. */
  available = true;
  state: BackendState = 'healthy';

  constructor(host: string, port: number, weight: number) {
    this.id = backendId(host, port);
    this.stickyKey = stickyKey(this.id);
    this.host = host;
    this.port = port;
    this.weight = weight;
  }

  get draining(): boolean {
    return this.drainReasons.size > 0;
  }

  get ejected(): boolean {
    return this.ejectedUntil > 0;
  }

  effectiveWeight(now: number): number {
    const elapsed = now - this.rampFrom;
    if (elapsed >= this.slowStartMs) return this.weight;
    if (elapsed <= 0) return this.weight * slowStartFloor;
    return this.weight * (slowStartFloor + (1 - slowStartFloor) * (elapsed / this.slowStartMs));
  }

  /** Recomputes `state`; returns true when it changed. Entering `healthy` starts the slow start ramp. */
  refresh(now: number): boolean {
    const next: BackendState = this.draining ? 'draining' : !this.healthy ? 'unhealthy' : this.ejected ? 'ejected' : 'healthy';
    if (next === this.state) return false;
    if (next === 'healthy') this.rampFrom = now;
    this.state = next;
    this.available = next === 'healthy';
    return true;
  }

  status(now: number): BackendStatus {
    const status: BackendStatus = {
      id: this.id,
      weight: this.weight,
      effective_weight: Math.round(this.effectiveWeight(now) * 100) / 100,
      state: this.state,
      inflight: this.inflight,
      ejections: this.ejections,
    };
    if (this.healthReason !== undefined) status.health_reason = this.healthReason;
    if (this.ejected) status.ejected_until = this.ejectedUntil;
    return status;
  }
}
