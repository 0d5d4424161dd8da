// A zone: its names (including empty non-terminals), delegation cuts, wildcards and the answers
// precomputed for them. Immutable once built; a reload builds a new Zone and swaps it in.
import { RRType } from '../wire/constants.ts';
import { isSubdomain, keyOf, keyToText, wireOfKey } from '../wire/name.ts';
import type { ZoneRecord } from './master-file.ts';
import { prepareZone } from './prepare.ts';
import type { PoolAnswer, PreparedAnswer, ZoneAnswer } from './prepared.ts';

export interface PoolRecord {
  readonly owner: Buffer;
  readonly type: number;
  readonly pool: string;
  readonly ttl: number;
  readonly source: string;
}

export interface ZoneNode {
  readonly key: string;
  readonly wire: Buffer;
  readonly rrsets: Map<number, ZoneRecord[]>;
  readonly pools: Map<number, PoolRecord>;
  /** The delegation point at or above this node (not the apex), when there is one. */
  cut?: ZoneNode;
  /** Answers by QTYPE; filled by prepareZone. */
  readonly answers: Map<number, ZoneAnswer>;
  /** Answer for QTYPEs not in `answers` (a CNAME chain, or the zone's NODATA). */
  fallback?: ZoneAnswer;
  referral?: PreparedAnswer;
  /** The `*` child of this node, when there is one (RFC 4592 source of synthesis). */
  wildcard?: ZoneNode;
}

export class ZoneError extends Error {}

export class Zone {
  readonly origin: Buffer;
  readonly originKey: string;
  readonly nodes = new Map<string, ZoneNode>();
  readonly soa: ZoneRecord;
  /** RFC 2308: min(SOA TTL, SOA MINIMUM). */
  readonly negativeTtl: number;
  readonly serial: number;
  readonly recordCount: number;
  nxdomain!: PreparedAnswer;
  nodata!: PreparedAnswer;
  /** HINFO "RFC8482" answer for ANY queries (no amplification). */
  anyAnswer!: PreparedAnswer;
  /** Where the data came from (file path or "config"), for status and errors. */
  readonly source: string;

  constructor(origin: Buffer, records: readonly ZoneRecord[], pools: readonly PoolRecord[], source: string) {
    this.origin = origin;
    this.originKey = keyOf(origin);
    this.source = source;
    const originText = keyToText(this.originKey);
    const seen = new Set<string>();
    let count = 0;
    for (const record of records) {
      const key = keyOf(record.owner);
      if (!isSubdomain(key, this.originKey)) throw new ZoneError(`${record.source}: ${keyToText(key)} is outside the zone ${originText}`);
      if (record.type === RRType.SOA && key !== this.originKey) throw new ZoneError(`${record.source}: SOA only at the zone apex ${originText}`);
      const identity = `${key}/${record.type}/${record.rdata.toString('latin1')}`;
      if (seen.has(identity)) continue; // RFC 2181 5: an RRset holds no duplicates
      seen.add(identity);
      const node = this.node(key);
      const rrset = node.rrsets.get(record.type);
      if (rrset) rrset.push(record);
      else node.rrsets.set(record.type, [record]);
      count++;
    }
    for (const pool of pools) {
      const key = keyOf(pool.owner);
      if (!isSubdomain(key, this.originKey)) throw new ZoneError(`${pool.source}: ${keyToText(key)} is outside the zone ${originText}`);
      const node = this.node(key);
      if (node.rrsets.has(pool.type) || node.pools.has(pool.type)) throw new ZoneError(`${pool.source}: ${keyToText(key)} has ${pool.type === RRType.A ? 'A' : 'AAAA'} data twice (pool records stand alone)`);
      node.pools.set(pool.type, pool);
      count++;
    }
    this.recordCount = count;
    const apex = this.nodes.get(this.originKey);
    const soas = apex?.rrsets.get(RRType.SOA) ?? [];
    if (soas.length !== 1) throw new ZoneError(`${source}: zone ${originText}: expected exactly one SOA record at the apex, got ${soas.length}`);
    this.soa = soas[0];
    this.serial = this.soa.rdata.readUInt32BE(this.soa.rdata.length - 20);
    this.negativeTtl = Math.min(this.soa.ttl, this.soa.rdata.readUInt32BE(this.soa.rdata.length - 4));

    for (const node of this.nodes.values()) {
      const cname = node.rrsets.get(RRType.CNAME);
      if (cname && (node.rrsets.size > 1 || node.pools.size > 0)) {
        throw new ZoneError(`${cname[0].source}: ${keyToText(node.key)} has a CNAME and other data (RFC 1034 3.6.2)`);
      }
      if (cname && cname.length > 1) throw new ZoneError(`${cname[1].source}: ${keyToText(node.key)} has more than one CNAME`);
    }
    this.markCuts();
    for (const node of this.nodes.values()) node.wildcard = this.nodes.get(`\x01*${node.key}`);
    prepareZone(this);
  }

  /** The answer for a name inside this zone (the caller found the zone by longest suffix). */
  lookup(key: string, qtype: number): ZoneAnswer {
    const exact = this.nodes.get(key);
    if (exact !== undefined) {
      if (exact.cut !== undefined && !(exact.cut === exact && qtype === RRType.DS)) return exact.cut.referral!;
      return this.answerAt(exact, qtype);
    }
    // closest encloser: the longest existing ancestor (the apex at the latest)
    let i = key.charCodeAt(0) + 1;
    for (;;) {
      const encloser = this.nodes.get(key.slice(i));
      if (encloser !== undefined) {
        if (encloser.cut !== undefined) return encloser.cut.referral!;
        const wildcard = encloser.wildcard;
        return wildcard === undefined ? this.nxdomain : this.answerAt(wildcard, qtype);
      }
      i += key.charCodeAt(i) + 1;
      if (i > key.length) return this.nxdomain; // unreachable: the apex exists
    }
  }

  private answerAt(node: ZoneNode, qtype: number): ZoneAnswer {
    const answer = node.answers.get(qtype);
    if (answer !== undefined) return answer;
    if (qtype === RRType.ANY && (node.rrsets.size > 0 || node.pools.size > 0)) return this.anyAnswer;
    return node.fallback ?? this.nodata;
  }

  /** Every node between a record's owner and the apex exists (empty non-terminals answer NODATA). */
  private node(key: string): ZoneNode {
    let node = this.nodes.get(key);
    if (node) return node;
    node = { key, wire: wireOfKey(key), rrsets: new Map(), pools: new Map(), answers: new Map() };
    this.nodes.set(key, node);
    if (key !== this.originKey) this.node(key.slice(key.charCodeAt(0) + 1));
    return node;
  }

  /** NS below the apex marks a delegation: that node and everything under it answer with a referral. */
  private markCuts(): void {
    const byDepth = [...this.nodes.values()].sort((a, b) => a.key.length - b.key.length);
    for (const node of byDepth) {
      if (node.key === this.originKey) continue;
      const parent = this.nodes.get(node.key.slice(node.key.charCodeAt(0) + 1));
      if (parent?.cut) node.cut = parent.cut;
      else if (node.rrsets.has(RRType.NS)) node.cut = node;
    }
  }
}

export type { PoolAnswer, PreparedAnswer, ZoneAnswer };
