// Public entry of the health component: active checkers and the probe registry. Passive outlier ejection
// lives with the pool (src/pool/passive.ts), because it feeds on the pool's lease outcomes in every worker.
export type * from './types.ts';
export { HealthChecker, type HealthCheckerOptions } from './checker.ts';
export { HealthCheckers, probeTargets, type HealthCheckersOptions } from './checker-set.ts';
export { HealthThresholds } from './thresholds.ts';
export { compileExpect, type StatusMatcher } from './expect.ts';
export { builtinProbes, tcpProbe, httpProbe, reasonOf } from './probes/index.ts';
