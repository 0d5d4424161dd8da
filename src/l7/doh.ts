// DNS over HTTPS (RFC 8484), the parts both downstream paths share (HTTP/1.1: doh-exchange.ts; HTTP/2 and
// h2c through the bridge): the DNS message a request carries, or the status that refuses it, and the
// fields of the answer. The DNS engine itself is the process's (HttpListenerDeps.dns).

export const DOH_MEDIA_TYPE = 'application/dns-message';
/** A DNS message is at most 65535 bytes (its TCP length prefix); a bigger body is refused with 413. */
export const DOH_MAX_MESSAGE = 65535;
/** Shorter than a DNS header: not a message. */
const HEADER_SIZE = 12;
/** A GET's ?dns= value longer than this cannot decode to a message of at most 65535 bytes. */
const MAX_BASE64URL = Math.ceil((DOH_MAX_MESSAGE * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** Fields of the 405 answer: RFC 8484 defines GET and POST only. */
export const DOH_ALLOW = ['allow', 'GET, POST'];

/**
 * The DNS message in a GET's query string (`dns=`, base64url without padding; padding is tolerated), or the
 * status to refuse with: 400 when it is missing, not base64url or shorter than a DNS header, 413 when longer
 * than a DNS message can be.
 */
export function dohGetMessage(target: string): Buffer | number {
  const q = target.indexOf('?');
  if (q < 0) return 400;
  let value: string | undefined;
  for (const pair of target.slice(q + 1).split('&')) {
    if (pair.startsWith('dns=')) {
      value = pair.slice(4);
      break;
    }
  }
  if (value === undefined || value.length === 0) return 400;
  if (value.length > MAX_BASE64URL) return 413;
  if (!BASE64URL.test(value)) return 400;
  const message = Buffer.from(value, 'base64url');
  return message.length < HEADER_SIZE ? 400 : message;
}

/**
 * Whether a POST may be read: 0 to go on, else the status — 415 unless its Content-Type is
 * application/dns-message (parameters ignored), 413 when its declared length is over a DNS message.
 */
export function dohPostStatus(contentType: string | undefined, contentLength: number): number {
  if (contentType === undefined) return 415;
  const semicolon = contentType.indexOf(';');
  const media = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (media !== DOH_MEDIA_TYPE) return 415;
  if (contentLength > DOH_MAX_MESSAGE) return 413;
  return 0;
}

/** 400 for a POST body that cannot be a DNS message (shorter than its header), else 0. */
export function dohBodyStatus(length: number): number {
  return length < HEADER_SIZE ? 400 : 0;
}

/** Fields of a DoH answer (RFC 8484 5.1: freshness no longer than the smallest TTL of the answer). */
export function dohAnswerFields(answer: Buffer, date: string): string[] {
  return ['date', date, 'content-type', DOH_MEDIA_TYPE, 'cache-control', `max-age=${minTtl(answer)}`, 'content-length', String(answer.length)];
}

/** Past a name in wire format at `at` (labels, ending in a root label or a compression pointer); -1 when malformed. */
function skipName(message: Buffer, at: number): number {
  let offset = at;
  while (offset < message.length) {
    const length = message[offset];
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) return offset + 2;
    if ((length & 0xc0) !== 0) return -1;
    offset += length + 1;
  }
  return -1;
}

const TYPE_OPT = 41;

/**
 * The smallest TTL of the records of a response (answer, authority — the SOA of a negative answer —
 * and additional, but not the OPT pseudo-record, whose TTL field holds flags); 0 when it has none or
 * cannot be read, so an error or an empty answer is not cached.
 */
export function minTtl(message: Buffer): number {
  if (message.length < HEADER_SIZE) return 0;
  const questions = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  let offset = HEADER_SIZE;
  for (let index = 0; index < questions; index++) {
    offset = skipName(message, offset);
    if (offset < 0) return 0;
    offset += 4;
  }
  let min = -1;
  for (let index = 0; index < records; index++) {
    offset = skipName(message, offset);
    if (offset < 0 || offset + 10 > message.length) return 0;
    const type = message.readUInt16BE(offset);
    const ttl = message.readUInt32BE(offset + 4);
    offset += 10 + message.readUInt16BE(offset + 8);
    if (type !== TYPE_OPT && (min < 0 || ttl < min)) min = ttl;
  }
  return min < 0 || min > 0x7fffffff ? 0 : min;
}
