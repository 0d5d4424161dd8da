// Encoding messages with name compression (RFC 1035 4.1.4). Used to build the precomputed answers at zone
// load, the answers of pool records and of the resolver, and outgoing resolver queries; not per
// authoritative query.
import { compressibleRdata, HEADER_SIZE, RRType } from './constants.ts';
import { keyOf } from './name.ts';

/** A resource record in the server's own form: names as uncompressed wire bytes. */
export interface ResourceRecord {
  readonly owner: Buffer;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** RDATA in uncompressed wire form; names inside are compressed on output for the RFC 1035 types. */
  readonly rdata: Buffer;
}

export interface WriterOptions {
  /** false: write every name in full (templates whose offsets move with the question's length). */
  compress?: boolean;
}

export class MessageWriter {
  private buffer: Buffer;
  private length = 0;
  private readonly names = new Map<string, number>();
  private readonly compress: boolean;

  constructor(options: WriterOptions = {}) {
    this.buffer = Buffer.alloc(512);
    this.compress = options.compress ?? true;
  }

  get offset(): number {
    return this.length;
  }

  header(id: number, flags: number, qdcount: number, ancount: number, nscount: number, arcount: number): this {
    this.ensure(HEADER_SIZE);
    const b = this.buffer;
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qdcount, 4);
    b.writeUInt16BE(ancount, 6);
    b.writeUInt16BE(nscount, 8);
    b.writeUInt16BE(arcount, 10);
    this.length = Math.max(this.length, HEADER_SIZE);
    return this;
  }

  /** Overwrites one of the four section counts (0 question … 3 additional). */
  setCount(section: 0 | 1 | 2 | 3, count: number): void {
    this.buffer.writeUInt16BE(count, 4 + section * 2);
  }

  question(name: Buffer, type: number, qclass: number): this {
    this.name(name, true);
    this.u16(type);
    this.u16(qclass);
    return this;
  }

  /**
   * Writes a record. `ownerPointer` writes the owner as a pointer to that offset instead (templates whose
   * owner is the question name, whatever it is). Returns the offset of the record's TTL field.
   */
  record(record: ResourceRecord, ownerPointer?: number, ttl = record.ttl): number {
    if (ownerPointer !== undefined) this.u16(0xc000 | ownerPointer);
    else this.name(record.owner, true);
    this.u16(record.type);
    this.u16(record.class);
    const ttlOffset = this.length;
    this.u32(ttl);
    const lengthOffset = this.length;
    this.u16(0);
    this.rdata(record.type, record.rdata);
    this.buffer.writeUInt16BE(this.length - lengthOffset - 2, lengthOffset);
    return ttlOffset;
  }

  /** An OPT pseudo-record advertising `udpSize` (RFC 6891), with extended rcode bits and no options. */
  opt(udpSize: number, extendedRcode = 0): this {
    this.ensure(11);
    this.buffer[this.length++] = 0;
    this.u16(RRType.OPT);
    this.u16(udpSize);
    this.u32((extendedRcode & 0xff) << 24);
    this.u16(0);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  u16(value: number): void {
    this.ensure(2);
    this.buffer.writeUInt16BE(value, this.length);
    this.length += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.buffer.writeUInt32BE(value >>> 0, this.length);
    this.length += 4;
  }

  /** Writes a wire name, compressed against earlier names when allowed. */
  name(wire: Buffer, compressible: boolean): void {
    const useMap = this.compress && compressible;
    const key = this.compress ? keyOf(wire) : '';
    let i = 0;
    while (wire[i] !== 0) {
      if (useMap) {
        const earlier = this.names.get(key.slice(i));
        if (earlier !== undefined) {
          this.u16(0xc000 | earlier);
          return;
        }
      }
      if (this.compress && this.length < 0x3fff) this.names.set(key.slice(i), this.length);
      const labelLength = wire[i] + 1;
      this.raw(wire.subarray(i, i + labelLength));
      i += labelLength;
    }
    this.ensure(1);
    this.buffer[this.length++] = 0;
  }

  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }

  private rdata(type: number, rdata: Buffer): void {
    if (!compressibleRdata.has(type)) {
      this.raw(rdata);
      return;
    }
    // RDATA is stored uncompressed, so its names can be located by walking labels
    let position = 0;
    const nameAt = (): void => {
      let end = position;
      while (rdata[end] !== 0) end += rdata[end] + 1;
      this.name(rdata.subarray(position, end + 1), true);
      position = end + 1;
    };
    if (type === RRType.MX) {
      this.raw(rdata.subarray(0, 2));
      position = 2;
      nameAt();
    } else if (type === RRType.SOA) {
      nameAt();
      nameAt();
      this.raw(rdata.subarray(position));
    } else {
      nameAt();
    }
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = Buffer.alloc(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
