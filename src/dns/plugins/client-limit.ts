// client-limit link: queries per second per client address for the resolver (`resolver.client_limit`), so
// one client cannot spend the upstreams' and the cache's capacity for everyone. It sits after the
// authority: our own zones are answered whatever the rate (response rate limiting covers those).
import type { DnsHandler, DnsRequest } from '../chain.ts';
import type { DnsCounters } from '../engine.ts';
import type { ResponseRateLimiter } from '../rate-limit.ts';
import { renderRcode } from '../render.ts';
import { Rcode } from '../wire/constants.ts';

export function clientLimitLink(limiter: ResponseRateLimiter, over: 'refuse' | 'drop', counters: DnsCounters): DnsHandler {
  return {
    name: 'client-limit',
    handle(request: DnsRequest) {
      if (!request.mayRecurse || limiter.check(request.clientAddress) === 'send') return undefined;
      counters.client_limited++;
      return over === 'drop' ? 'drop' : renderRcode(request.query, Rcode.REFUSED, request.limits);
    },
  };
}
