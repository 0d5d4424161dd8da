// DNS records in presentation format, the way dig prints them (names fully qualified, TXT quoted,
// unknown types as RFC 3597 "\# len hex"), plus the header line and flag list.
import type { Answer, Packet } from 'dns-packet';

export const fqdn = (name: string): string => (!name || name === '.' ? '.' : name.endsWith('.') ? name : `${name}.`);

/** A record for --json output and comparisons: the same text dig would show, split into fields. */
export interface RecordView {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export function recordView(record: Answer): RecordView {
  const raw = record as any;
  return { name: fqdn(record.name), ttl: raw.ttl ?? 0, class: raw.class ?? 'IN', type: record.type, data: rdataText(record) };
}

export function recordLine(view: RecordView): string {
  const name = view.name.length < 24 ? view.name.padEnd(24) : `${view.name} `;
  return `${name}${String(view.ttl).padEnd(8)}${view.class.padEnd(4)}${view.type.padEnd(8)}${view.data}`;
}

function quoted(bytes: Buffer | string): string {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  let text = '"';
  for (const byte of buffer) {
    if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x20 || byte > 0x7e) text += `\\${String(byte).padStart(3, '0')}`;
    else text += String.fromCharCode(byte);
  }
  return `${text}"`;
}

const hex = (buffer: Buffer): string => buffer.toString('hex').toUpperCase();
const generic = (buffer: Buffer): string => `\\# ${buffer.length}${buffer.length ? ` ${hex(buffer)}` : ''}`;

export function rdataText(record: Answer): string {
  const data = (record as any).data;
  if (Buffer.isBuffer(data)) return generic(data);
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return String(data);
    case 'NS':
    case 'CNAME':
    case 'PTR':
    case 'DNAME':
      return fqdn(String(data));
    case 'MX':
      return `${data.preference} ${fqdn(data.exchange)}`;
    case 'TXT': {
      const parts: (Buffer | string)[] = Array.isArray(data) ? data : [data];
      return parts.map(quoted).join(' ');
    }
    case 'SOA':
      return `${fqdn(data.mname)} ${fqdn(data.rname)} ${data.serial} ${data.refresh} ${data.retry} ${data.expire} ${data.minimum}`;
    case 'SRV':
      return `${data.priority ?? 0} ${data.weight ?? 0} ${data.port} ${fqdn(data.target)}`;
    case 'CAA':
      return `${data.flags ?? 0} ${data.tag} ${quoted(String(data.value))}`;
    case 'HINFO':
      return `${quoted(String(data.cpu))} ${quoted(String(data.os))}`;
    case 'DS':
      return `${data.keyTag} ${data.algorithm} ${data.digestType} ${hex(data.digest)}`;
    case 'DNSKEY':
      return `${data.flags} 3 ${data.algorithm} ${Buffer.from(data.key).toString('base64')}`;
    default:
      return typeof data === 'string' ? data : JSON.stringify(data);
  }
}

/** dig's flag order: qr aa tc rd ra ad cd. */
export function headerFlags(packet: Packet): string[] {
  const raw = packet as any;
  const flags: string[] = [];
  if (raw.flag_qr) flags.push('qr');
  if (raw.flag_aa) flags.push('aa');
  if (raw.flag_tc) flags.push('tc');
  if (raw.flag_rd) flags.push('rd');
  if (raw.flag_ra) flags.push('ra');
  if (raw.flag_ad) flags.push('ad');
  if (raw.flag_cd) flags.push('cd');
  return flags;
}

export const rcodeOf = (packet: Packet): string => String((packet as any).rcode ?? 'NOERROR');

/** Records of a section without the EDNS OPT pseudo-record (shown apart, as dig does). */
export const withoutOpt = (records: readonly Answer[] | undefined): Answer[] => (records ?? []).filter((record) => record.type !== 'OPT');

export function optOf(packet: Packet): { udpPayloadSize: number; version: number; do: boolean } | undefined {
  const opt = (packet.additionals ?? []).find((record) => record.type === 'OPT') as any;
  return opt ? { udpPayloadSize: opt.udpPayloadSize, version: opt.ednsVersion ?? 0, do: Boolean(opt.flag_do) } : undefined;
}
