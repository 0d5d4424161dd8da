export { Dashboard, csrfHeader, type DashboardSource } from './dashboard.ts';
