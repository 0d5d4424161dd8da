// The strict hand parse of an incoming query: header, the single question, and the additional section
// (for EDNS0's OPT). It runs for every datagram, so it allocates only the result object and the key
// string, and refuses anything a well-behaved client would not send (RFC 1035 4.1, RFC 6891).
import { Flag, HEADER_SIZE, RRType, Rcode } from './constants.ts';
import { MAX_LABEL, MAX_NAME } from './name.ts';

export interface DnsQuery {
  /** The datagram or TCP frame as received. */
  readonly message: Buffer;
  readonly id: number;
  /** The 16-bit flags word of the query. */
  readonly flags: number;
  /** Offset just after QTYPE/QCLASS: bytes [12, questionEnd) are echoed into the response. */
  readonly questionEnd: number;
  /** Lowercase key of QNAME (see name.ts). */
  readonly key: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Advertised UDP payload size from OPT, 0 when the query has no OPT. */
  readonly ednsSize: number;
  /** EDNS version (0) or -1 when absent. */
  readonly ednsVersion: number;
  /** DNSSEC OK bit. */
  readonly ednsDo: boolean;
}

/** Outcome of a parse that did not yield a query: answer with this rcode (header only) or drop. */
export type ParseFailure = typeof Rcode.FORMERR | typeof Rcode.NOTIMP | 'drop';

/**
 * Parses a query message. Drops what is too short to carry an ID or is itself a response (QR set: never
 * answer a response, or two servers could ping-pong); NOTIMP for opcodes other than QUERY; FORMERR for
 * everything malformed: compression in the question, label/name length violations, counts that do not
 * match the bytes, answer/authority records in a query, more than one OPT, trailing bytes.
 */
export function parseQuery(message: Buffer): DnsQuery | ParseFailure {
  const length = message.length;
  if (length < HEADER_SIZE) return 'drop';
  const flags = (message[2] << 8) | message[3];
  if (flags & Flag.QR) return 'drop';
  if (((flags >> 11) & 0xf) !== 0) return Rcode.NOTIMP;
  if (message[4] !== 0 || message[5] !== 1 || message[6] !== 0 || message[7] !== 0 || message[8] !== 0 || message[9] !== 0) return Rcode.FORMERR;
  const arcount = (message[10] << 8) | message[11];

  // QNAME: plain labels only; a pointer in the first name of a message cannot point at a prior name.
  let position = HEADER_SIZE;
  let upper = false;
  for (;;) {
    if (position >= length) return Rcode.FORMERR;
    const labelLength = message[position];
    if (labelLength === 0) break;
    if (labelLength > MAX_LABEL) return Rcode.FORMERR;
    const next = position + 1 + labelLength;
    if (next >= length) return Rcode.FORMERR;
    for (let i = position + 1; i < next; i++) {
      const byte = message[i];
      if (byte >= 0x41 && byte <= 0x5a) upper = true;
      else if (byte >= 0x80) upper = true; // latin1 toLowerCase would fold these; take the exact path below
    }
    position = next;
  }
  const nameEnd = position; // the terminal zero
  if (nameEnd + 1 - HEADER_SIZE > MAX_NAME) return Rcode.FORMERR;
  if (nameEnd + 5 > length) return Rcode.FORMERR;
  const qtype = (message[nameEnd + 1] << 8) | message[nameEnd + 2];
  const qclass = (message[nameEnd + 3] << 8) | message[nameEnd + 4];
  const questionEnd = nameEnd + 5;
  if (qtype === RRType.OPT) return Rcode.FORMERR;

  let key = message.toString('latin1', HEADER_SIZE, nameEnd);
  if (upper) key = asciiLower(message, HEADER_SIZE, nameEnd);

  let ednsSize = 0;
  let ednsVersion = -1;
  let ednsDo = false;
  position = questionEnd;
  for (let record = 0; record < arcount; record++) {
    // owner name: OPT's must be the root; others (e.g. TSIG, which we do not verify) are skipped
    const ownerStart = position;
    position = skipName(message, position);
    if (position < 0 || position + 10 > length) return Rcode.FORMERR;
    const type = (message[position] << 8) | message[position + 1];
    const rdlength = (message[position + 8] << 8) | message[position + 9];
    if (type === RRType.OPT) {
      if (ednsVersion >= 0 || position !== ownerStart + 1) return Rcode.FORMERR;
      ednsSize = Math.max(512, (message[position + 2] << 8) | message[position + 3]);
      ednsVersion = message[position + 5];
      ednsDo = (message[position + 6] & 0x80) !== 0;
    }
    position += 10 + rdlength;
    if (position > length) return Rcode.FORMERR;
  }
  if (position !== length) return Rcode.FORMERR;

  return { message, id: (message[0] << 8) | message[1], flags, questionEnd, key, qtype, qclass, ednsSize, ednsVersion, ednsDo };
}

function asciiLower(message: Buffer, start: number, end: number): string {
  let key = '';
  for (let i = start; i < end; i++) {
    const byte = message[i];
    key += String.fromCharCode(byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte);
  }
  return key;
}

/** Offset after a (possibly compressed) name, or -1 when malformed. Follows no pointers: only skips. */
function skipName(message: Buffer, start: number): number {
  let position = start;
  for (let labels = 0; labels < 128; labels++) {
    if (position >= message.length) return -1;
    const labelLength = message[position];
    if (labelLength === 0) return position + 1;
    if ((labelLength & 0xc0) === 0xc0) {
      if (position + 2 > message.length) return -1;
      const target = ((labelLength & 0x3f) << 8) | message[position + 1];
      return target < start ? position + 2 : -1;
    }
    if (labelLength > MAX_LABEL) return -1;
    position += labelLength + 1;
  }
  return -1;
}
