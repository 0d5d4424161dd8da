// The balancer registry: every built-in policy registers under its config name (`balance:`), exactly as an
// added one would; the `satisfies` clause proves each covers the BalancerFactory contract and that every
// policy the schema accepts has an implementation.
import type { BalancePolicy } from '../../config/index.ts';
import type { BalancerFactory, BalancerRegistry } from '../types.ts';
import { roundRobin } from './round-robin.ts';
import { weightedRoundRobin } from './weighted-round-robin.ts';
import { leastConn } from './least-conn.ts';
import { ipHash } from './ip-hash.ts';
import { consistentHash } from './consistent-hash.ts';

const builtins = Object.freeze({
  round_robin: roundRobin,
  weighted_round_robin: weightedRoundRobin,
  least_conn: leastConn,
  ip_hash: ipHash,
  consistent_hash: consistentHash,
} satisfies Record<BalancePolicy, BalancerFactory>);

/** A fresh registry holding the built-in policies; callers may add their own before building pools. */
export function builtinBalancers(): Map<string, BalancerFactory> {
  return new Map<string, BalancerFactory>(Object.entries(builtins));
}

export type { BalancerRegistry };
export { roundRobin, weightedRoundRobin, leastConn, ipHash, consistentHash };
export { hashString, keyReader } from './hash.ts';
