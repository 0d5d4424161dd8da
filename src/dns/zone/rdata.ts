// Presentation form → RDATA wire bytes, for the types Switchyard serves (plus RFC 3597's generic
// `\# length hex` for any other). Names come out uncompressed; the writer compresses them on output.
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RRType } from '../wire/constants.ts';
import { nameToWire } from '../wire/name.ts';

/** One field of a record as written: `raw` keeps escapes (names parse them); `quoted` came in "…". */
export interface Token {
  raw: string;
  quoted: boolean;
}

export class RdataError extends Error {}

const ttlUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "3600" | "1h" | "1h30m" | "2W" → seconds (BIND's TTL syntax); undefined when not a TTL. */
export function parseTtl(text: string): number | undefined {
  if (/^\d+$/.test(text)) return checkedTtl(Number(text));
  if (!/^(\d+[smhdw])+$/i.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.toLowerCase().matchAll(/(\d+)([smhdw])/g)) total += Number(amount) * ttlUnits[unit];
  return checkedTtl(total);
}

function checkedTtl(value: number): number | undefined {
  return value <= 0x7fffffff ? value : undefined;
}

/** Decodes the escapes of a character-string (`\"`, `\\`, `\DDD`) into bytes. */
export function stringBytes(raw: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code === 0x5c && i + 1 < raw.length) {
      const digits = /^\d{3}/.exec(raw.slice(i + 1, i + 4));
      if (digits) {
        if (Number(digits[0]) > 255) throw new RdataError(`escape \\${digits[0]} out of range`);
        bytes.push(Number(digits[0]));
        i += 3;
      } else {
        bytes.push(raw.charCodeAt(++i) & 0xff);
      }
    } else if (code > 0x7f) {
      for (const byte of Buffer.from(raw[i], 'utf8')) bytes.push(byte);
    } else {
      bytes.push(code);
    }
  }
  return Buffer.from(bytes);
}

/** A TXT value as character-strings: each at most 255 bytes, longer values split (RFC 7208 3.3 style). */
export function characterStrings(values: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    if (value.length === 0) parts.push(Buffer.from([0]));
    for (let offset = 0; offset < value.length; offset += 255) {
      const chunk = value.subarray(offset, offset + 255);
      parts.push(Buffer.from([chunk.length]), chunk);
    }
  }
  return Buffer.concat(parts);
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

function integer(token: Token | undefined, what: string, max: number): number {
  if (!token || !/^\d+$/.test(token.raw) || Number(token.raw) > max) throw new RdataError(`expected ${what} (0-${max}), got ${token ? JSON.stringify(token.raw) : 'nothing'}`);
  return Number(token.raw);
}

function period(token: Token | undefined, what: string): number {
  const value = token ? parseTtl(token.raw) : undefined;
  if (value === undefined) throw new RdataError(`expected ${what} (seconds or 1h-style), got ${token ? JSON.stringify(token.raw) : 'nothing'}`);
  return value;
}

function name(token: Token | undefined, origin: Buffer, what: string): Buffer {
  if (!token) throw new RdataError(`expected ${what}, got nothing`);
  try {
    return token.raw === '@' ? origin : nameToWire(token.raw, origin);
  } catch (err) {
    throw new RdataError(`${what}: ${(err as Error).message}`);
  }
}

function exactly(tokens: readonly Token[], count: number, type: string): void {
  if (tokens.length !== count) throw new RdataError(`expected ${count} field${count === 1 ? '' : 's'} for ${type}, got ${tokens.length}`);
}

/** RDATA of `type` from its fields; relative names are completed with `origin`. */
export function encodeRdata(type: number, tokens: readonly Token[], origin: Buffer): Buffer {
  if (tokens[0]?.raw === '\\#' && !tokens[0].quoted) return genericRdata(tokens);
  switch (type) {
    case RRType.A: {
      exactly(tokens, 1, 'A');
      if (!isIPv4(tokens[0].raw)) throw new RdataError(`expected an IPv4 address, got ${JSON.stringify(tokens[0].raw)}`);
      return Buffer.from(tokens[0].raw.split('.').map(Number));
    }
    case RRType.AAAA: {
      exactly(tokens, 1, 'AAAA');
      if (!ipaddr.IPv6.isValid(tokens[0].raw)) throw new RdataError(`expected an IPv6 address, got ${JSON.stringify(tokens[0].raw)}`);
      return Buffer.from(ipaddr.IPv6.parse(tokens[0].raw).toByteArray());
    }
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      exactly(tokens, 1, 'a name record');
      return name(tokens[0], origin, 'a target name');
    case RRType.MX:
      exactly(tokens, 2, 'MX');
      return Buffer.concat([u16(integer(tokens[0], 'a preference', 65535)), name(tokens[1], origin, 'an exchange name')]);
    case RRType.TXT:
      if (tokens.length === 0) throw new RdataError('expected at least one string for TXT');
      return characterStrings(tokens.map((token) => stringBytes(token.raw)));
    case RRType.HINFO:
      exactly(tokens, 2, 'HINFO');
      return characterStrings(tokens.map((token) => stringBytes(token.raw)));
    case RRType.SRV:
      exactly(tokens, 4, 'SRV');
      return Buffer.concat([
        u16(integer(tokens[0], 'a priority', 65535)),
        u16(integer(tokens[1], 'a weight', 65535)),
        u16(integer(tokens[2], 'a port', 65535)),
        name(tokens[3], origin, 'a target name'),
      ]);
    case RRType.CAA: {
      exactly(tokens, 3, 'CAA');
      const tag = tokens[1].raw;
      if (!/^[A-Za-z0-9]{1,15}$/.test(tag)) throw new RdataError(`expected a CAA tag like issue, got ${JSON.stringify(tag)}`);
      return Buffer.concat([Buffer.from([integer(tokens[0], 'CAA flags', 255), tag.length]), Buffer.from(tag, 'latin1'), stringBytes(tokens[2].raw)]);
    }
    case RRType.SOA:
      exactly(tokens, 7, 'SOA');
      return Buffer.concat([
        name(tokens[0], origin, 'an mname'),
        name(tokens[1], origin, 'an rname'),
        u32(integer(tokens[2], 'a serial', 0xffffffff)),
        u32(period(tokens[3], 'a refresh')),
        u32(period(tokens[4], 'a retry')),
        u32(period(tokens[5], 'an expire')),
        u32(period(tokens[6], 'a minimum')),
      ]);
    default:
      throw new RdataError(`type ${type} needs the generic form \\# <length> <hex>`);
  }
}

function genericRdata(tokens: readonly Token[]): Buffer {
  const length = integer(tokens[1], 'an RDATA length', 65535);
  const hex = tokens.slice(2).map((token) => token.raw).join('');
  if (!/^([0-9a-fA-F]{2})*$/.test(hex) || hex.length / 2 !== length) throw new RdataError(`expected ${length} bytes of hex after \\#`);
  return Buffer.from(hex, 'hex');
}
