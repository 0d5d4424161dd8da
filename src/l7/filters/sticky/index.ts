// `sticky`: session affinity set by the edge. The cookie carries the backend's stickyKey (src/pool: a hash
// of its id, the same in every worker and across restarts, not its address); "pick upstream" honours it
// while that backend is usable, and a response from any other backend (first visit, failover, a retry
// elsewhere) re-pins the client with a new cookie.
import type { MiddlewareSettings } from '../../../config/index.ts';
import { stickyKey } from '../../../pool/index.ts';
import type { FilterFactory, HttpFilter } from '../types.ts';

export const stickyFilter = {
  name: 'sticky',
  create(settings: MiddlewareSettings['sticky']): HttpFilter {
    const name = settings.cookie;
    // the attributes are fixed per route: built once, the value is the only per-response part
    let attributes = `; Path=${settings.path}; HttpOnly; SameSite=${settings.same_site}`;
    if (settings.max_age !== undefined) attributes += `; Max-Age=${Math.floor(settings.max_age / 1000)}`;
    const secureAlways = settings.secure === true || settings.same_site === 'None';
    const secureAuto = settings.secure === 'auto';
    // stickyKey() hashes: remembered per backend id (a pool's handful of backends)
    const keys = new Map<string, string>();
    const keyOf = (id: string): string => {
      let key = keys.get(id);
      if (key === undefined) keys.set(id, (key = stickyKey(id)));
      return key;
    };
    return {
      name: 'sticky',
      onRequest(ctx) {
        const pinned = ctx.cookie(name);
        if (pinned !== undefined && pinned !== '') ctx.preferBackend(pinned);
        return undefined;
      },
      onResponse(ctx, head, response) {
        if (response.backend === '') return undefined;
        const key = keyOf(response.backend);
        if (ctx.cookie(name) === key) return undefined;
        const secure = secureAlways || (secureAuto && ctx.scheme === 'https') ? '; Secure' : '';
        head.add('set-cookie', `${name}=${key}${attributes}${secure}`);
        return undefined;
      },
    };
  },
} satisfies FilterFactory<'sticky'>;
