// AccessLine: the access log's JSON line assembled as bytes in one reused buffer. Why not a string: paired
// runs (two workers on one CPU under the same load) put building the line with string concatenation at
// ~1.3 µs per request and encoding that rope into the file buffer at ~0.6 µs — more than the rest of the
// request's JavaScript. Here constant fragments are copied from pre-encoded bytes, numbers are written
// digit by digit, and request strings byte by byte while they are plain ASCII; anything else (quotes,
// backslashes, control or non-ASCII characters) takes JSON.stringify, so the output is the same JSON.
// The combined and text formats (access-formats.ts) use the same buffer with plain() instead of str().

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66];

export function encodeAscii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export class AccessLine {
  readonly buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Size of the buffer: callers check a line's worst case against it before starting the line. */
  get capacity(): number {
    return this.buf.length;
  }

  reset(): void {
    this.pos = 0;
  }

  bytes(src: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < src.length; i++) buf[pos++] = src[i];
    this.pos = pos;
  }

  /** A JSON string literal (quotes included). */
  str(value: string): void {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    buf[pos++] = QUOTE;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x20 || c === QUOTE || c === BACKSLASH || c > 0x7e) {
        this.pos = start;
        this.pos += this.buf.write(JSON.stringify(value), start, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    buf[pos++] = QUOTE;
    this.pos = pos;
  }

  /**
   * A request string outside JSON (combined / text lines), as nginx escapes it: printable ASCII as is,
   * `"`, `\`, control characters and every byte of non-ASCII UTF-8 as `\xHH`. At most 12 bytes per
   * UTF-16 unit (a 3-byte character, each byte escaped).
   *
   * `wire`: the value holds request bytes one per character (the HTTP/1 parser and HPACK decode as latin1),
   * so a character up to 0xff is that byte and is escaped as one `\xHH` — re-encoding it as UTF-8 would log
   * bytes the client never sent (é on the wire, c3 a9, would read \xc3\x83\xc2\xa9). Config names are
   * real text and take the UTF-8 path.
   */
  plain(value: string, wire = false): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x20 && c <= 0x7e && c !== QUOTE && c !== BACKSLASH) {
        buf[pos++] = c;
        continue;
      }
      const point = value.codePointAt(i)!;
      if (point > 0xffff) i++;
      const bytes = point < 0x80 || (wire && point <= 0xff) ? [point] : [...Buffer.from(String.fromCodePoint(point), 'utf8')];
      for (const byte of bytes) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x78;
        buf[pos++] = HEX[byte >> 4];
        buf[pos++] = HEX[byte & 15];
      }
    }
    this.pos = pos;
  }

  /** A non-negative integer (byte counts, statuses). */
  int(value: number): void {
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER) || value !== Math.floor(value)) {
      this.pos += this.buf.write(JSON.stringify(value), this.pos, 'latin1');
      return;
    }
    const buf = this.buf;
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let pos = this.pos + digits;
    this.pos = pos;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      buf[--pos] = 0x30 + (rest - next * 10);
      rest = next;
    } while (rest > 0);
  }

  /** Milliseconds between two monotonic readings (ms) with 3 decimals, from whole microseconds. */
  ms(from: number, to: number): void {
    const us = Math.round((to - from) * 1000);
    if (!(us >= 0)) {
      this.buf[this.pos++] = 0x30;
      return;
    }
    const whole = Math.floor(us / 1000);
    const frac = us - whole * 1000;
    this.int(whole);
    const buf = this.buf;
    buf[this.pos++] = 0x2e;
    buf[this.pos++] = 0x30 + Math.floor(frac / 100);
    buf[this.pos++] = 0x30 + (Math.floor(frac / 10) % 10);
    buf[this.pos++] = 0x30 + (frac % 10);
  }

  /** `key` (a pre-encoded `,"name":`) and a JSON string. */
  strField(key: Uint8Array, value: string): void {
    this.bytes(key);
    this.str(value);
  }

  /** `key` and a non-negative integer. */
  intField(key: Uint8Array, value: number): void {
    this.bytes(key);
    this.int(value);
  }

  /** `key` and the milliseconds from `from` to `to`. */
  msField(key: Uint8Array, from: number, to: number): void {
    this.bytes(key);
    this.ms(from, to);
  }

  /** The line so far as text (for streams that take strings). */
  text(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }
}
