// authority link: names inside our zones (zone by longest suffix), answered from the precomputed wire
// answers. Pool records are left to the pool-answers link; a referral goes to the resolver instead when
// the client may recurse and asked for recursion.
import type { DnsHandler, DnsRequest } from '../chain.ts';
import { renderPrepared } from '../render.ts';
import { Flag } from '../wire/constants.ts';
import type { ZoneSet } from '../zone/zone-set.ts';

export function authorityLink(zones: ZoneSet): DnsHandler {
  return {
    name: 'authority',
    handle(request: DnsRequest) {
      const query = request.query;
      const zone = zones.find(query.key);
      if (zone === undefined) return undefined;
      const answer = zone.lookup(query.key, query.qtype);
      if (answer.kind === 'pool') {
        request.poolAnswer = answer;
        return undefined;
      }
      if (answer.kind === 'referral' && request.mayRecurse && (query.flags & Flag.RD) !== 0) return undefined;
      return renderPrepared(query, answer, request.limits);
    },
  };
}
