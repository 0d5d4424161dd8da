// Passive outlier ejection (`passive:`): the pool feeds every lease outcome here. `consecutive_failures`
// failures in a row eject the backend for eject_for × its ejection level (1, 2, 3, … capped by
// max_eject_for); the level drops by one for every eject_for the backend then spends without being ejected.
// Ejection is refused when it would put more than max_ejected_percent of the pool out at once, or take
// the last usable backend, so a transient storm cannot empty a pool.
import type { PassiveConfig } from '../config/index.ts';
import type { PoolBackend } from './backend.ts';
import type { LeaseOutcome } from './types.ts';

/**
 * Outcomes that say the backend is at fault. `cancelled` (the downstream gave up) says nothing about the
 * backend and leaves the count alone; `success` (any non-5xx response) resets it.
 */
export function isFailure(outcome: LeaseOutcome): boolean {
  switch (outcome) {
    case 'connect_error':
    case 'reset':
    case 'timeout':
    case 'bad_response':
    case 'http_5xx':
      return true;
    default:
      return false;
  }
}

export function ejectionTime(config: PassiveConfig, level: number): number {
  return Math.min(config.eject_for * level, config.max_eject_for);
}

/** Whether one more ejection is allowed in a pool whose backends are `members`. */
export function mayEject(config: PassiveConfig, members: readonly PoolBackend[], candidate: PoolBackend): boolean {
  let ejected = 0;
  let usableOthers = 0;
  for (const backend of members) {
    if (backend.ejected) ejected++;
    else if (backend !== candidate && backend.available) usableOthers++;
  }
  if (usableOthers === 0) return false;
  return ((ejected + 1) * 100) / members.length <= config.max_ejected_percent;
}

/**
 * Applies one outcome to `backend`'s failure streak. Returns how long to eject it for (ms), or 0 when it
 * stays in. The caller sets the ejection and schedules the return.
 */
export function recordOutcome(config: PassiveConfig, members: readonly PoolBackend[], backend: PoolBackend, outcome: LeaseOutcome, now: number): number {
  if (outcome === 'cancelled' || backend.ejected) return 0;
  if (!isFailure(outcome)) {
    backend.consecutiveFailures = 0;
    return 0;
  }
  backend.consecutiveFailures++;
  if (backend.consecutiveFailures < config.consecutive_failures || !backend.available) return 0;
  if (!mayEject(config, members, backend)) return 0;
  const calm = backend.returnedAt > 0 ? Math.floor((now - backend.returnedAt) / config.eject_for) : 0;
  backend.ejectionLevel = Math.max(0, backend.ejectionLevel - calm) + 1;
  backend.consecutiveFailures = 0;
  return ejectionTime(config, backend.ejectionLevel);
}
