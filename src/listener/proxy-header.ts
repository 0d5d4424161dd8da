// Inbound PROXY protocol (HAProxy's spec, v1 text and v2 binary): the header an L4 load balancer writes
// before the client's first byte to say who the client is. Parsing is strict and bounded: anything that
// is not a well-formed header is an error, never guessed at. The encoder (outbound) lives in src/l4.
import net from 'node:net';

/** v1 is at most 107 bytes with its CRLF (spec 2.1). */
const V1_MAX = 107;
/**
 * v2: 16 fixed bytes and the announced length. The spec lets TLVs take up to 65535 bytes; no balancer
 * sends more than a few hundred, and a header is read before anything is known about the sender, so the
 * whole header is bounded well below that.
 */
export const PROXY_HEADER_MAX = 4096;

const v1Prefix = Buffer.from('PROXY ', 'latin1');
const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyHeader {
  /** Bytes of the header: the client's own bytes start after them. */
  length: number;
  /** The client the header names; undefined for LOCAL / UNKNOWN (health checks of the balancer itself). */
  source: { address: string; port: number } | undefined;
}

/** What parseProxyHeader found: a header, more bytes needed, or an error (a reason, lowercase). */
export type ProxyParse = { header: ProxyHeader; error?: undefined } | { header?: undefined; error: string } | undefined;

/** Whether buf[0, n) is a prefix of `expected` (compared over the shorter of the two). */
function prefixOf(buf: Buffer, expected: Buffer): boolean {
  const n = Math.min(buf.length, expected.length);
  return buf.compare(expected, 0, n, 0, n) === 0;
}

/**
 * Parses the header at the start of `buf`. Returns undefined while the bytes so far are a valid beginning
 * of a header (read more), an error as soon as they cannot be one (so plain traffic fails at its first
 * bytes, not at a timeout).
 */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return undefined;
  if (buf[0] === 0x50) return prefixOf(buf, v1Prefix) ? parseV1(buf) : { error: 'not a proxy protocol header' };
  if (buf[0] === 0x0d) return prefixOf(buf, v2Signature) ? parseV2(buf) : { error: 'not a proxy protocol header' };
  return { error: 'not a proxy protocol header' };
}

const decimalPort = /^(0|[1-9][0-9]{0,4})$/;

function parseV1(buf: Buffer): ProxyParse {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1) {
    if (buf.length >= V1_MAX) return { error: 'v1 header longer than 107 bytes' };
    // a bare LF or a byte that is no printable ASCII can never become a header: fail now
    for (let i = 0; i < buf.length; i++) if (buf[i] < 0x20 && buf[i] !== 0x0d) return { error: 'v1 header with a control byte' };
    return undefined;
  }
  if (end + 2 > V1_MAX) return { error: 'v1 header longer than 107 bytes' };
  const fields = buf.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  // "PROXY UNKNOWN" may carry anything up to the CRLF (spec 2.1): the receiver uses the real addresses
  if (fields[1] === 'UNKNOWN') return { header: { length, source: undefined } };
  if (fields.length !== 6) return { error: 'v1 header with a wrong number of fields' };
  const [, family, source, destination, sourcePort, destinationPort] = fields;
  const isAddress = family === 'TCP4' ? net.isIPv4 : family === 'TCP6' ? net.isIPv6 : undefined;
  if (isAddress === undefined) return { error: `v1 header with unknown family ${JSON.stringify(family)}` };
  if (!isAddress(source) || !isAddress(destination)) return { error: `v1 header with an address that is not ${family}` };
  if (!decimalPort.test(sourcePort) || !decimalPort.test(destinationPort) || Number(sourcePort) > 65535 || Number(destinationPort) > 65535) {
    return { error: 'v1 header with a port that is not 0-65535' };
  }
  return { header: { length, source: { address: source, port: Number(sourcePort) } } };
}

function parseV2(buf: Buffer): ProxyParse {
  if (buf.length < 16) return undefined;
  const versionCommand = buf[12];
  if (versionCommand >> 4 !== 2) return { error: `v2 header with version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  if (command > 1) return { error: `v2 header with unknown command ${command}` };
  const familyProtocol = buf[13];
  const payload = buf.readUInt16BE(14);
  const length = 16 + payload;
  if (length > PROXY_HEADER_MAX) return { error: `v2 header of ${length} bytes, more than ${PROXY_HEADER_MAX}` };
  if (buf.length < length) return undefined;
  // LOCAL: the balancer's own connection (its health checks); the address block, if any, is ignored
  if (command === 0) return { header: { length, source: undefined } };
  switch (familyProtocol) {
    case 0x11: // TCP over IPv4: src(4) dst(4) sport(2) dport(2), then TLVs (skipped)
      if (payload < 12) return { error: 'v2 header too short for tcp4 addresses' };
      return { header: { length, source: { address: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24) } } };
    case 0x21: // TCP over IPv6: src(16) dst(16) sport(2) dport(2), then TLVs
      if (payload < 36) return { error: 'v2 header too short for tcp6 addresses' };
      return { header: { length, source: { address: ipv6Text(buf, 16), port: buf.readUInt16BE(48) } } };
    case 0x00: // UNSPEC: the spec lets the receiver use the real addresses
    case 0x31: // unix stream socket: no IP client to name either
      return { header: { length, source: undefined } };
    default:
      return { error: `v2 header with family/protocol 0x${familyProtocol.toString(16).padStart(2, '0')} (a tcp listener takes tcp4, tcp6, unspec or unix stream)` };
  }
}

/** Eight 16-bit groups, compressed the way Node prints socket addresses; v4-mapped as dotted quad. */
function ipv6Text(buf: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + i * 2).toString(16));
  const text = groups.join(':');
  // longest run of two or more zero groups becomes "::"
  let best = '';
  for (const run of text.match(/(?:^|:)0(?::0)+(?::|$)/g) ?? []) if (run.length > best.length) best = run;
  const compressed = best === '' ? text : text.replace(best, '::');
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped === null) return compressed;
  const high = parseInt(mapped[1], 16);
  const low = parseInt(mapped[2], 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
