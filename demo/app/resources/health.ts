// /healthz for the edge's http health check: 200 when the database answers `SELECT 1` in time, else 503,
// so Switchyard stops sending traffic to an instance whose database is gone.
import type { RouteDefinition } from '../http/router.ts';
import { HttpProblem } from '../http/problem.ts';
import { DbError } from '../db/index.ts';
import type { Services } from './services.ts';

export function healthRoutes(services: Services, isDraining: () => boolean): RouteDefinition[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      handler: async (ctx) => {
        // A draining instance fails its check first, so the edge moves traffic away before it stops.
        if (isDraining()) throw new HttpProblem(503, `${services.instance} is shutting down`, { code: 'draining' });
        try {
          await ctx.db(() => services.repository.ping(services.healthTimeoutMs));
        } catch (err) {
          const reason = err instanceof DbError ? err.message : 'database check failed';
          throw new HttpProblem(503, `database unavailable: ${reason}`, { code: 'unavailable' });
        }
        return { status: 200, body: { status: 'ok', service: services.service, instance: services.instance } };
      },
    },
  ];
}
