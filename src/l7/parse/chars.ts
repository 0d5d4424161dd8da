// Byte classes from RFC 9110 / 9112, as lookup tables built once at module load (immutable after).

function table(predicate: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = predicate(b) ? 1 : 0;
  return t;
}

const tokenSpecials = "!#$%&'*+-.^_`|~";

/** tchar: the bytes of a token (method, header name, transfer coding). */
export const TOKEN = table(
  (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || tokenSpecials.includes(String.fromCharCode(b)),
);

/** field-vchar plus SP and HTAB: the bytes allowed inside a field value (obs-text included, CTLs not). */
export const FIELD_VALUE = table((b) => b === 0x09 || b === 0x20 || (b >= 0x21 && b <= 0x7e) || b >= 0x80);

/** Bytes of a request-target: visible US-ASCII only (no spaces, no CTLs, no obs-text). */
export const TARGET = table((b) => b >= 0x21 && b <= 0x7e);

/** Bytes of a Host value: reg-name / IP-literal / port characters. */
export const HOST = table(
  (b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "-._~!$&'()*+,;=:%[]".includes(String.fromCharCode(b)),
);

/** Hex digit value, or 255. */
export const HEX = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let b = 0x30; b <= 0x39; b++) t[b] = b - 0x30;
  for (let b = 0x41; b <= 0x46; b++) t[b] = b - 0x41 + 10;
  for (let b = 0x61; b <= 0x66; b++) t[b] = b - 0x61 + 10;
  return t;
})();

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;

/** Case-insensitive compare of buf[start, start+lower.length) with a lower-case ASCII literal. */
export function equalsLower(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let b = buf[start + i];
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Bytes of a line scanned in JavaScript before findHeadEnd asks buf.indexOf (memchr). */
const SHORT_LINE = 128;

/**
 * Finds the end of a head (the index after CRLF CRLF) in buf[from, end), scanning only LFs at or after
 * `scanFrom`. Returns -1 when incomplete, -2 on a bare LF (a LF not preceded by CR), which RFC 9112
 * allows a recipient to accept but which request-smuggling chains rely on: we refuse it.
 */
export function findHeadEnd(buf: Buffer, from: number, scanFrom: number, end: number): number {
  let i = scanFrom < from ? from : scanFrom;
  while (i < end) {
    // a header line is usually short: a byte loop finds its LF for less than buf.indexOf's call costs;
    // past SHORT_LINE bytes memchr takes over, so a long line (hostile or a big cookie) is not slower
    let lf = -1;
    const stop = i + SHORT_LINE < end ? i + SHORT_LINE : end;
    for (let j = i; j < stop; j++) {
      if (buf[j] === LF) {
        lf = j;
        break;
      }
    }
    if (lf < 0) {
      if (stop === end) return -1;
      lf = buf.indexOf(LF, stop);
    }
    if (lf < 0 || lf >= end) return -1;
    if (lf === from || buf[lf - 1] !== CR) return -2;
    if (lf - 3 >= from && buf[lf - 2] === LF) return lf + 1;
    i = lf + 1;
  }
  return -1;
}
