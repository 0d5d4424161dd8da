// Public entry of the pool component: pools, their registry, leases and the balancer registry.
export type * from './types.ts';
export { Pool, type PoolDeps } from './pool.ts';
export { PoolRegistry, buildPools, type BuildPoolsOptions } from './registry.ts';
export { backendId, slowStartFloor, stickyKey } from './backend.ts';
export { isFailure, ejectionTime } from './passive.ts';
export { builtinBalancers, hashString, keyReader } from './balancers/index.ts';
export { PickLog, PickSnapshot, pickView, candidatesLine, CANDIDATE_STATES, PICK_LOG_SIZE, PICK_LOG_BACKENDS, type PickView, type CandidateState } from './pick-log.ts';
