export { configTopology, type ListenerTopology, type RouteTopology } from './dashboard/index.ts';
export { AdminServer, type AdminController, type AdminServerOptions, type ReloadResult } from './server.ts';
export { ensureAdminToken, readAdminToken, tokenMatches } from './token.ts';
export { getAdmin, postAdmin, type AdminAddress } from './client.ts';
