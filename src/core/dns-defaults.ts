// DNS settings' defaults and tests that both the config schema (check, the primary) and the DNS server in
// the workers read: here, so that workers do not load the schema (zod, yaml) for a constant.
import ipaddr from 'ipaddr.js';

/** cache.stale_answer_after when serve_stale is on and it is not set (seconds; RFC 8767's suggestion). */
export const STALE_ANSWER_AFTER_DEFAULT = 1800;

/** True when a listen address is reachable from beyond this host: not a loopback address or `localhost`. */
export function listensBeyondLoopback(listen: readonly { host: string }[]): boolean {
  return listen.some(({ host }) => {
    if (host === 'localhost') return false;
    try {
      return ipaddr.process(host).range() !== 'loopback';
    } catch {
      return true; // a host name: it may resolve to anything
    }
  });
}
