// HPACK (RFC 7541) for the HTTP/2 codec. The decoder keeps the dynamic table that a client's header blocks
// build up, so after the first request most fields arrive as one-byte indexes and decode to strings that
// are already in the table: no string is made twice. The encoder writes responses without the dynamic
// table (literals without indexing, static-table names where there is one), so it keeps no state but the
// table-size update it owes the client after a SETTINGS_HEADER_TABLE_SIZE below 4096.
import { huffmanDecode } from './huffman.ts';

const staticTable: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = staticTable.length; // 61

/** Entry overhead counted by the table size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

/** Why a header block was refused: the connection must end with COMPRESSION_ERROR. */
export class HpackError extends Error {}

/**
 * Decodes header blocks of one connection into flat [name, value, …] lists. The dynamic table is a ring of
 * names and values; `maxSize` is what our SETTINGS_HEADER_TABLE_SIZE allows (4096, the default we announce).
 */
export class HpackDecoder {
  private names: string[] = new Array(64);
  private values: string[] = new Array(64);
  private sizes: number[] = new Array(64);
  /** Index in the ring of the newest entry's slot + 1 (entries go backwards from it). */
  private head = 0;
  private count = 0;
  private size = 0;
  private tableMax: number;
  private readonly settingsMax: number;

  constructor(settingsMax = 4096) {
    this.settingsMax = settingsMax;
    this.tableMax = settingsMax;
  }

  /**
   * Appends the fields of block[start, end) to `out` and returns the header list size as
   * SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 per field). Throws HpackError.
   *
   * `collectLimit`: once the list size passes it, fields are counted but no longer appended (the caller
   * refuses the list: a block of one-byte references to a 4 KB table entry must not become a list of
   * gigabytes), and literals that do not enter the table are skipped unread (their size counted as
   * encoded). Fields that enter the dynamic table are always decoded, so the table stays in step with
   * the client's. `stopAt`: past this list size decoding stops at once and the size so far is returned;
   * the table is then out of step and the connection must end.
   */
  decode(block: Buffer, start: number, end: number, out: string[], collectLimit = Infinity, stopAt = Infinity): number {
    let i = start;
    let listSize = 0;
    let fieldsSeen = false;
    while (i < end) {
      if (listSize > stopAt) return listSize;
      const b = block[i];
      if (b >= 0x80) {
        // indexed field
        const index = this.readInt(block, i, end, 7);
        i = this.next;
        if (index === 0) throw new HpackError('index 0');
        const name = this.nameAt(index);
        const value = this.valueAt(index);
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize <= collectLimit) out.push(name, value);
        fieldsSeen = true;
        continue;
      }
      if (b >= 0x20 && b < 0x40) {
        // dynamic table size update: only before the first field of a block
        if (fieldsSeen) throw new HpackError('table size update after a field');
        const max = this.readInt(block, i, end, 5);
        i = this.next;
        if (max > this.settingsMax) throw new HpackError('table size update above the settings');
        this.tableMax = max;
        this.evict(0);
        continue;
      }
      const incremental = b >= 0x40;
      const prefix = incremental ? 6 : 4;
      const index = this.readInt(block, i, end, prefix);
      i = this.next;
      fieldsSeen = true;
      if (!incremental && listSize > collectLimit) {
        // refused already and not for the table: skipped, counted as sent
        let size = ENTRY_OVERHEAD;
        if (index === 0) {
          size += this.skipString(block, i, end);
          i = this.next;
        } else size += this.nameAt(index).length;
        size += this.skipString(block, i, end);
        i = this.next;
        listSize += size;
        continue;
      }
      let name: string;
      if (index === 0) {
        name = this.readString(block, i, end);
        i = this.next;
      } else name = this.nameAt(index);
      const value = this.readString(block, i, end);
      i = this.next;
      if (incremental) this.add(name, value);
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= collectLimit) out.push(name, value);
    }
    return listSize;
  }

  /** Steps over a string literal without decoding it; returns its encoded length. */
  private skipString(buf: Buffer, i: number, end: number): number {
    if (i >= end) throw new HpackError('truncated string');
    const length = this.readInt(buf, i, end, 7);
    const to = this.next + length;
    if (to > end) throw new HpackError('string past the block');
    this.next = to;
    return length;
  }

  /** Where the last read ended (readInt/readString return their value; this is their second result). */
  private next = 0;

  private readInt(buf: Buffer, i: number, end: number, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = buf[i] & mask;
    i++;
    if (value < mask) {
      this.next = i;
      return value;
    }
    let shift = 0;
    for (;;) {
      if (i >= end) throw new HpackError('truncated integer');
      const b = buf[i++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      // no field, index or table size of ours comes near 2^28: longer integers are an attack or garbage
      if (value > 0xfffffff || shift > 28) throw new HpackError('integer too large');
      if (b < 0x80) break;
    }
    this.next = i;
    return value;
  }

  private readString(buf: Buffer, i: number, end: number): string {
    if (i >= end) throw new HpackError('truncated string');
    const huffman = buf[i] >= 0x80;
    const length = this.readInt(buf, i, end, 7);
    const from = this.next;
    const to = from + length;
    if (to > end) throw new HpackError('string past the block');
    this.next = to;
    if (!huffman) return buf.toString('latin1', from, to);
    const text = huffmanDecode(buf, from, to);
    if (text === null) throw new HpackError('bad huffman string');
    return text;
  }

  private slot(index: number): number {
    // dynamic index 62 is the newest entry
    const d = index - STATIC_COUNT - 1;
    if (d >= this.count) throw new HpackError(`index ${index} past the table`);
    const ring = this.names.length;
    return (this.head - 1 - d + ring) % ring;
  }

  private nameAt(index: number): string {
    return index <= STATIC_COUNT ? staticTable[index - 1][0] : this.names[this.slot(index)];
  }

  private valueAt(index: number): string {
    return index <= STATIC_COUNT ? staticTable[index - 1][1] : this.values[this.slot(index)];
  }

  private add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.tableMax) {
      // an entry larger than the table empties it and is not added (RFC 7541 §4.4)
      this.evict(this.tableMax);
      return;
    }
    this.evict(size);
    if (this.count === this.names.length) this.grow();
    const ring = this.names.length;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.sizes[this.head] = size;
    this.head = (this.head + 1) % ring;
    this.count++;
    this.size += size;
  }

  /** Drops the oldest entries until `room` more bytes fit under tableMax. */
  private evict(room: number): void {
    const ring = this.names.length;
    while (this.count > 0 && this.size + room > this.tableMax) {
      const oldest = (this.head - this.count + ring) % ring;
      this.size -= this.sizes[oldest];
      this.names[oldest] = this.values[oldest] = '';
      this.count--;
    }
  }

  private grow(): void {
    const ring = this.names.length;
    const names = new Array<string>(ring * 2);
    const values = new Array<string>(ring * 2);
    const sizes = new Array<number>(ring * 2);
    for (let k = 0; k < this.count; k++) {
      const from = (this.head - this.count + k + ring) % ring;
      names[k] = this.names[from];
      values[k] = this.values[from];
      sizes[k] = this.sizes[from];
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.head = this.count;
  }
}

/** Static-table index of a name (first entry with it), for literal fields with an indexed name. */
const staticNameIndex = new Map<string, number>();
for (let i = staticTable.length - 1; i >= 0; i--) staticNameIndex.set(staticTable[i][0], i + 1);
const statusIndex = new Map<number, number>([[200, 8], [204, 9], [206, 10], [304, 11], [400, 12], [404, 13], [500, 14]]);

/**
 * Writes header blocks of responses and trailers. Fields go out as literals without indexing: no dynamic
 * table to keep in step with the client, and the client's decoder has nothing to store.
 */
export class HpackEncoder {
  /** A table size update owed to the client (its SETTINGS_HEADER_TABLE_SIZE went below our 4096); -1: none. */
  private pendingSizeUpdate = -1;

  /** The client's SETTINGS_HEADER_TABLE_SIZE: we never index, but must say our table fits the new size. */
  peerTableSize(size: number): void {
    if (size < 4096) this.pendingSizeUpdate = this.pendingSizeUpdate < 0 ? size : Math.min(this.pendingSizeUpdate, size);
  }

  /**
   * Encodes `:status` (when status > 0) and the flat fields into out from `at`; returns the end offset, or
   * -1 when out is too small (the caller retries with a larger buffer). Names must be lower case.
   */
  encode(status: number, fields: readonly string[], out: Buffer, at: number): number {
    let o = at;
    const limit = out.length;
    if (this.pendingSizeUpdate >= 0) {
      if (limit - o < 6) return -1;
      o = writeInt(out, o, this.pendingSizeUpdate, 5, 0x20);
    }
    if (status > 0) {
      const index = statusIndex.get(status);
      if (index !== undefined) {
        if (o >= limit) return -1;
        out[o++] = 0x80 | index;
      } else {
        if (limit - o < 5) return -1;
        out[o++] = 0x08; // literal without indexing, name :status (index 8)
        out[o++] = 3;
        o += out.write(String(status), o, 3, 'latin1');
      }
    }
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      // worst case: 6 bytes of name index or length, the name, 6 bytes of value length, the value
      if (limit - o < name.length + value.length + 12) return -1;
      const index = staticNameIndex.get(name);
      if (index !== undefined) o = writeInt(out, o, index, 4, 0x00);
      else {
        out[o++] = 0x00;
        o = writeInt(out, o, name.length, 7, 0x00);
        o = writeLatin1(out, o, name);
      }
      o = writeInt(out, o, value.length, 7, 0x00);
      o = writeLatin1(out, o, value);
    }
    this.pendingSizeUpdate = -1;
    return o;
  }
}

/** Strings shorter than this are copied by a loop: Buffer.write's call costs more than their bytes. */
const SHORT_STRING = 32;

/** Writes `text` as latin1 at `o` (the caller made room); returns the end offset. */
function writeLatin1(out: Buffer, o: number, text: string): number {
  if (text.length >= SHORT_STRING) return o + out.write(text, o, 'latin1');
  for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i);
  return o;
}

function writeInt(out: Buffer, o: number, value: number, prefixBits: number, firstByteFlags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[o++] = firstByteFlags | value;
    return o;
  }
  out[o++] = firstByteFlags | max;
  value -= max;
  while (value >= 0x80) {
    out[o++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[o++] = value;
  return o;
}
