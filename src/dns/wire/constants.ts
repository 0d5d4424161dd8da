// DNS numbers used across the server (RFC 1035, 3596, 2782, 6844, 6891, 8482).

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  CAA: 257,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
} as const;

export const typeByName: Record<string, number> = { ...RRType };
export const nameByType: Record<number, string> = Object.fromEntries(Object.entries(RRType).map(([name, code]) => [code, name]));

/** "A" → 1, "TYPE65534" → 65534 (RFC 3597); undefined when unknown. */
export function typeCode(text: string): number | undefined {
  const upper = text.toUpperCase();
  const known = typeByName[upper];
  if (known !== undefined) return known;
  const generic = /^TYPE(\d{1,5})$/.exec(upper);
  if (generic && Number(generic[1]) <= 65535) return Number(generic[1]);
  return undefined;
}

export function typeText(code: number): string {
  return nameByType[code] ?? `TYPE${code}`;
}

export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

export const Opcode = { QUERY: 0 } as const;

/** Flag bits in the 16-bit header word. */
export const Flag = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

export const HEADER_SIZE = 12;
/** Size of an OPT pseudo-record without options. */
export const OPT_SIZE = 11;
/** Largest UDP answer to a client that sent no EDNS0 (RFC 1035 4.2.1). */
export const CLASSIC_UDP_SIZE = 512;

/** Types whose RDATA holds names the encoder may compress (RFC 3597 section 4: only the RFC 1035 types). */
export const compressibleRdata: ReadonlySet<number> = new Set([RRType.NS, RRType.CNAME, RRType.SOA, RRType.PTR, RRType.MX]);
