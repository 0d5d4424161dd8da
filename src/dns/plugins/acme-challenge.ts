// acme-challenge link: the TXT records of pending ACME dns-01 challenges (RFC 8555 8.4), answered inside
// our own zones. The records are not part of any zone file: src/acme sets and removes them while an order
// is validated, and the supervisor hands this link the process's live set. A name in the set answers TXT
// with its values (TTL 0: a CA may look again after a retry); other types of that name pass on to the
// authority link. With no challenge pending the link costs one size check per query.
import type { DnsHandler, DnsRequest } from '../chain.ts';
import { finishResponse, responseWriter } from '../render.ts';
import { Flag, HEADER_SIZE, RRClass, RRType } from '../wire/constants.ts';
import type { ZoneSet } from '../zone/zone-set.ts';

/** Pending dns-01 TXT values by owner key (name.ts: lowercase wire form without the root label). */
export interface ChallengeTxtSource {
  /** Number of names with values; 0 lets the link pass at once. */
  readonly size: number;
  /** Each value as TXT RDATA (one character-string per value). */
  txt(key: string): readonly Buffer[] | undefined;
}

export function acmeChallengeLink(source: ChallengeTxtSource | undefined, zones: ZoneSet): DnsHandler {
  return {
    name: 'acme-challenge',
    handle(request: DnsRequest) {
      if (source === undefined || source.size === 0) return undefined;
      const query = request.query;
      if (query.qtype !== RRType.TXT && query.qtype !== RRType.ANY) return undefined;
      const values = source.txt(query.key);
      // only names inside a zone we serve: this edge is never authoritative for anything else
      if (values === undefined || zones.find(query.key) === undefined) return undefined;
      const writer = responseWriter(query);
      for (const rdata of values) writer.record({ owner: Buffer.alloc(0), type: RRType.TXT, class: RRClass.IN, ttl: 0, rdata }, HEADER_SIZE);
      return finishResponse(query, writer, Flag.AA, [values.length, 0, 0], request.limits);
    },
  };
}
