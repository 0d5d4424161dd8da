export { Dashboard, csrfHeader, type DashboardSource } from './dashboard.ts';
export { configTopology, type ListenerTopology, type RouteTopology } from './topology.ts';
