// The admin API's view of the pools when traffic runs in workers. The primary's pools know what the
// primary decides (active health, admin drains); each worker's pools know what happens to traffic
// (requests in flight, passive ejections, slow-start weights). The view joins them per backend.
import type { BackendStatus, PoolStatus } from '../pool/index.ts';

/** `primary` with in-flight requests and ejections summed over `workers`, and ejected when a worker ejected it. */
export function joinPoolStatus(primary: readonly PoolStatus[], workers: readonly (readonly PoolStatus[])[]): PoolStatus[] {
  const seen = new Map<string, BackendStatus[]>();
  for (const pools of workers) {
    for (const pool of pools) {
      for (const backend of pool.backends) {
        const key = `${pool.name}\0${backend.id}`;
        const list = seen.get(key);
        if (list) list.push(backend);
        else seen.set(key, [backend]);
      }
    }
  }
  return primary.map((pool) => {
    const backends = pool.backends.map((backend): BackendStatus => {
      const views = seen.get(`${pool.name}\0${backend.id}`);
      if (!views) return backend;
      const joined: BackendStatus = { ...backend, inflight: 0, ejections: 0, effective_weight: views[0].effective_weight };
      for (const view of views) {
        joined.inflight += view.inflight;
        joined.ejections += view.ejections;
      }
      // Unhealthy and draining are the primary's verdicts; ejection is a worker's, on its own traffic.
      const ejected = views.filter((view) => view.state === 'ejected');
      if (backend.state === 'healthy' && ejected.length > 0) {
        joined.state = 'ejected';
        joined.ejected_until = Math.max(...ejected.map((view) => view.ejected_until ?? 0));
      }
      return joined;
    });
    return { ...pool, backends, usable: backends.filter((backend) => backend.state === 'healthy').length };
  });
}
