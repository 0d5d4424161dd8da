export { startEdge, runEdge, type RunningEdge } from './run.ts';
export { ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
export { readRunFile, type RunRecord } from './run-file.ts';
