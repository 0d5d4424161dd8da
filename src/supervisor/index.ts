export { startEdge, runEdge, type RunningEdge } from './run.ts';
export { ControlPlane, type ControlPlaneOptions } from './control-plane.ts';
