// Percent-decoding for matching (not for forwarding): lenient (a malformed escape stays as written), bytes
// as Latin-1 characters (the rules are ASCII; a UTF-8 sequence becomes several characters none of which
// a rule looks for). Returns the input itself when it holds nothing to decode, so ordinary requests
// allocate nothing here.

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** One pass of percent-decoding; `plusIsSpace` for a query (form encoding). */
export function percentDecode(text: string, plusIsSpace: boolean): string {
  if (text.indexOf('%') < 0 && (!plusIsSpace || text.indexOf('+') < 0)) return text;
  let out = '';
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b && plusIsSpace) {
      out += text.slice(run, i) + ' ';
      run = i + 1;
    } else if (c === 0x25) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) continue;
      out += text.slice(run, i) + String.fromCharCode(hi * 16 + lo);
      run = i + 3;
      i += 2;
    }
  }
  return out + text.slice(run);
}
