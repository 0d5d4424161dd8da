// The shapes of precomputed answers: what the authority link hands to the renderer. Built once per zone
// load (prepare.ts); rendered per query by patching in the client's ID, flags and question (render.ts).
import type { ZoneRecord } from './master-file.ts';

/** A complete answer except for the ID, RD/CD bits, question and OPT. */
export interface PreparedAnswer {
  readonly kind: 'answer' | 'nodata' | 'nxdomain' | 'referral';
  /** 12 bytes: flags and the four counts (QDCOUNT 1; OPT not counted). */
  readonly header: Buffer;
  /** Answer, authority and additional sections, as they follow the question. */
  readonly body: Buffer;
  /**
   * Offset in `body` of a 2-byte name pointer that must point at the zone apex inside the client's
   * question (negative templates, whose SOA owner is the apex), or -1.
   */
  readonly apexPatch: number;
  /** Key length of the zone origin, to find the apex inside the question. */
  readonly apexKeyLength: number;
}

/** An A/AAAA answer drawn from a pool's healthy backends at query time. */
export interface PoolAnswer {
  readonly kind: 'pool';
  readonly pool: string;
  readonly type: number;
  readonly ttl: number;
  /** CNAME records that lead to the pool record (chased within the zone), already in answer order. */
  readonly chain: readonly ZoneRecord[];
  /** The pool record's owner in wire form (the last CNAME's target, or the question name). */
  readonly owner: Buffer;
  /** The owner is the question name itself (write it as a pointer to the question). */
  readonly ownerIsQuestion: boolean;
}

export type ZoneAnswer = PreparedAnswer | PoolAnswer;
