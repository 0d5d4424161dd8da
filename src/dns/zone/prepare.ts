// Precomputing a zone's answers as wire bytes at load time (the authoritative hot path only patches them).
// Answers for an existing name are compressed against the question (same name, same length, so the
// offsets hold for every query of it); answers synthesised from a wildcard, referrals and negative
// templates serve many names of different lengths, so their names are written in full except the owner,
// which points at the question (offset 12).
import { Flag, HEADER_SIZE, RRClass, RRType, Rcode } from '../wire/constants.ts';
import { isSubdomain, keyOf } from '../wire/name.ts';
import { MessageWriter } from '../wire/writer.ts';
import type { ZoneRecord } from './master-file.ts';
import type { PoolAnswer, PreparedAnswer } from './prepared.ts';
import { characterStrings } from './rdata.ts';
import type { PoolRecord, Zone, ZoneNode } from './zone.ts';

interface Sections {
  answer: readonly ZoneRecord[];
  authority?: readonly ZoneRecord[];
  additional?: readonly ZoneRecord[];
}

const QUESTION_POINTER = HEADER_SIZE;

export function prepareZone(zone: Zone): void {
  const negativeSoa: ZoneRecord = { ...zone.soa, ttl: zone.negativeTtl };
  zone.nxdomain = negativeTemplate(zone, negativeSoa, Rcode.NXDOMAIN);
  zone.nodata = negativeTemplate(zone, negativeSoa, Rcode.NOERROR);
  const hinfo: ZoneRecord = { owner: zone.origin, type: RRType.HINFO, class: RRClass.IN, ttl: zone.soa.ttl, rdata: characterStrings([Buffer.from('RFC8482'), Buffer.alloc(0)]), source: 'RFC 8482' };
  zone.anyAnswer = build(zone, undefined, { answer: [hinfo] }, Flag.AA, 'answer', (record) => record === hinfo);

  for (const node of zone.nodes.values()) {
    if (node.cut) {
      if (node.cut === node) node.referral = referral(zone, node);
      continue;
    }
    const synthesised = node.key.startsWith('\x01*');
    const exact = synthesised ? undefined : node;
    const cname = node.rrsets.get(RRType.CNAME);
    for (const [type, rrset] of node.rrsets) {
      node.answers.set(type, build(zone, exact, { answer: rrset, additional: additionalFor(zone, rrset) }, Flag.AA, 'answer', synthesised ? ownedBy(node.key) : undefined));
    }
    for (const [type, pool] of node.pools) {
      node.answers.set(type, poolAnswer(pool, [], node.wire, true));
    }
    if (cname) {
      // the chain differs only by the types found at its end; precompute each, plus one for all others
      const chainTypes = new Set<number>();
      for (const member of chainNodes(zone, node)) {
        for (const type of member.rrsets.keys()) chainTypes.add(type);
        for (const type of member.pools.keys()) chainTypes.add(type);
      }
      chainTypes.delete(RRType.CNAME);
      for (const type of chainTypes) node.answers.set(type, chainAnswer(zone, node, type, exact, synthesised));
      node.fallback = chainAnswer(zone, node, -1, exact, synthesised);
    }
  }
}

/** Builds one answer; with `exact` set the question is that node's name (full compression). */
function build(zone: Zone, exact: ZoneNode | undefined, sections: Sections, flags: number, kind: PreparedAnswer['kind'], ownerIsQuestion?: (record: ZoneRecord) => boolean): PreparedAnswer {
  const writer = new MessageWriter({ compress: exact !== undefined });
  if (exact) writer.header(0, 0, 1, 0, 0, 0).question(exact.wire, RRType.A, RRClass.IN);
  const start = writer.offset;
  const write = (record: ZoneRecord): void => {
    // in templates the synthesised owner (the wildcard's, or ANY's HINFO) is whatever the question was
    writer.record(record, !exact && ownerIsQuestion?.(record) ? QUESTION_POINTER : undefined);
  };
  sections.answer.forEach(write);
  sections.authority?.forEach(write);
  sections.additional?.forEach(write);
  const rcode = kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR;
  return {
    kind,
    header: headerBytes(Flag.QR | flags | rcode, sections.answer.length, sections.authority?.length ?? 0, sections.additional?.length ?? 0),
    body: writer.finish().subarray(start),
    apexPatch: -1,
    apexKeyLength: zone.originKey.length,
  };
}

function ownedBy(key: string): (record: ZoneRecord) => boolean {
  return (record) => keyOf(record.owner) === key;
}

function headerBytes(flags: number, ancount: number, nscount: number, arcount: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ancount, 6);
  header.writeUInt16BE(nscount, 8);
  header.writeUInt16BE(arcount, 10);
  return header;
}

/** NXDOMAIN / NODATA: SOA in authority, its owner a pointer patched to the apex inside the question. */
function negativeTemplate(zone: Zone, soa: ZoneRecord, rcode: number): PreparedAnswer {
  const writer = new MessageWriter({ compress: false });
  writer.record(soa, 0);
  return {
    kind: rcode === Rcode.NXDOMAIN ? 'nxdomain' : 'nodata',
    header: headerBytes(Flag.QR | Flag.AA | rcode, 0, 1, 0),
    body: writer.finish(),
    apexPatch: 0,
    apexKeyLength: zone.originKey.length,
  };
}

/** A/AAAA of in-zone targets of NS, MX and SRV records (RFC 1034 additional section processing). */
function additionalFor(zone: Zone, rrset: readonly ZoneRecord[]): ZoneRecord[] {
  const extra: ZoneRecord[] = [];
  for (const record of rrset) {
    let target: Buffer | undefined;
    if (record.type === RRType.NS) target = record.rdata;
    else if (record.type === RRType.MX) target = record.rdata.subarray(2);
    else if (record.type === RRType.SRV) target = record.rdata.subarray(6);
    if (!target) continue;
    const node = zone.nodes.get(keyOf(target));
    if (!node) continue;
    extra.push(...(node.rrsets.get(RRType.A) ?? []), ...(node.rrsets.get(RRType.AAAA) ?? []));
  }
  return extra;
}

function referral(zone: Zone, cut: ZoneNode): PreparedAnswer {
  const ns = cut.rrsets.get(RRType.NS)!;
  return build(zone, undefined, { answer: [], authority: ns, additional: additionalFor(zone, ns) }, 0, 'referral');
}

function poolAnswer(pool: PoolRecord, chain: readonly ZoneRecord[], owner: Buffer, ownerIsQuestion: boolean): PoolAnswer {
  return { kind: 'pool', pool: pool.pool, type: pool.type, ttl: pool.ttl, chain, owner, ownerIsQuestion };
}

/** The nodes a CNAME chain visits inside the zone (bounded; stops at loops, cuts and other zones). */
function chainNodes(zone: Zone, start: ZoneNode): ZoneNode[] {
  const nodes = [start];
  let node = start;
  for (let hops = 0; hops < 16; hops++) {
    const cname = node.rrsets.get(RRType.CNAME);
    if (!cname) break;
    const key = keyOf(cname[0].rdata);
    const next = isSubdomain(key, zone.originKey) ? zone.nodes.get(key) : undefined;
    if (!next || next.cut || nodes.includes(next)) break;
    nodes.push(next);
    node = next;
  }
  return nodes;
}

/** CNAME chain for `qtype` (RFC 1034 4.3.2 step 3a): the chain, then the data, NODATA or NXDOMAIN (RFC 6604). */
function chainAnswer(zone: Zone, start: ZoneNode, qtype: number, exact: ZoneNode | undefined, synthesised: boolean): PreparedAnswer | PoolAnswer {
  const records: ZoneRecord[] = [];
  const nodes = chainNodes(zone, start);
  const negativeSoa: ZoneRecord = { ...zone.soa, ttl: zone.negativeTtl };
  const questionKey = synthesised ? ownedBy(start.key) : undefined;
  for (let index = 0; index < nodes.length; index++) {
    const node = nodes[index];
    const cname = node.rrsets.get(RRType.CNAME);
    if (cname) {
      records.push(cname[0]);
      if (index === nodes.length - 1) {
        // the chain leaves the zone, loops, or points at a missing name
        const target = keyOf(cname[0].rdata);
        const missing = isSubdomain(target, zone.originKey) && !zone.nodes.has(target);
        if (missing) return build(zone, exact, { answer: records, authority: [negativeSoa] }, Flag.AA, 'nxdomain', questionKey);
        return build(zone, exact, { answer: records }, Flag.AA, 'answer', questionKey);
      }
      continue;
    }
    const pool = node.pools.get(qtype);
    if (pool) return poolAnswer(pool, records, node.wire, false);
    const data = node.rrsets.get(qtype);
    if (data) {
      records.push(...data);
      return build(zone, exact, { answer: records, additional: additionalFor(zone, data) }, Flag.AA, 'answer', questionKey);
    }
    return build(zone, exact, { answer: records, authority: [negativeSoa] }, Flag.AA, 'nodata', questionKey);
  }
  return build(zone, exact, { answer: records }, Flag.AA, 'answer', questionKey);
}
