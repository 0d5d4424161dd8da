// Decoding responses from upstream servers (the resolver's input, untrusted). Names are decompressed with
// loop protection; RDATA names of the RFC 1035 types (and SRV) are decompressed too, so a record can be
// cached and re-encoded on its own. Anything malformed yields undefined, never an exception.
import { HEADER_SIZE, RRType } from '../wire/constants.ts';
import { readName } from '../wire/name.ts';
import type { ResourceRecord } from '../wire/writer.ts';

export interface DecodedMessage {
  id: number;
  flags: number;
  rcode: number;
  question: { name: Buffer; type: number; class: number } | undefined;
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

export function decodeMessage(message: Buffer): DecodedMessage | undefined {
  if (message.length < HEADER_SIZE) return undefined;
  const counts = [message.readUInt16BE(4), message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)];
  if (counts[0] > 1) return undefined;
  let position = HEADER_SIZE;
  let question: DecodedMessage['question'];
  if (counts[0] === 1) {
    const name = readName(message, position);
    if (!name || name.end + 4 > message.length) return undefined;
    question = { name: name.wire, type: message.readUInt16BE(name.end), class: message.readUInt16BE(name.end + 2) };
    position = name.end + 4;
  }
  const sections: ResourceRecord[][] = [[], [], []];
  let extendedRcode = 0;
  for (let section = 0; section < 3; section++) {
    for (let index = 0; index < counts[section + 1]; index++) {
      const owner = readName(message, position);
      if (!owner || owner.end + 10 > message.length) return undefined;
      const type = message.readUInt16BE(owner.end);
      const rrClass = message.readUInt16BE(owner.end + 2);
      const ttl = message.readUInt32BE(owner.end + 4);
      const rdlength = message.readUInt16BE(owner.end + 8);
      const start = owner.end + 10;
      if (start + rdlength > message.length) return undefined;
      position = start + rdlength;
      if (type === RRType.OPT) {
        extendedRcode = ttl >>> 24;
        continue;
      }
      const rdata = decompressRdata(message, type, start, rdlength);
      if (!rdata) return undefined;
      // RFC 2181 8: a TTL with the top bit set is treated as zero
      sections[section].push({ owner: owner.wire, type, class: rrClass, ttl: ttl > 0x7fffffff ? 0 : ttl, rdata });
    }
  }
  const flags = message.readUInt16BE(2);
  return { id: message.readUInt16BE(0), flags, rcode: (extendedRcode << 4) | (flags & 0xf), question, answer: sections[0], authority: sections[1], additional: sections[2] };
}

function decompressRdata(message: Buffer, type: number, start: number, length: number): Buffer | undefined {
  const end = start + length;
  const nameAt = (offset: number): { wire: Buffer; end: number } | undefined => {
    const name = readName(message, offset);
    return name && name.end <= end ? name : undefined;
  };
  switch (type) {
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME: {
      const name = nameAt(start);
      return name && name.end === end ? name.wire : undefined;
    }
    case RRType.MX: {
      const name = length > 2 ? nameAt(start + 2) : undefined;
      return name && name.end === end ? Buffer.concat([message.subarray(start, start + 2), name.wire]) : undefined;
    }
    case RRType.SRV: {
      const name = length > 6 ? nameAt(start + 6) : undefined;
      return name && name.end === end ? Buffer.concat([message.subarray(start, start + 6), name.wire]) : undefined;
    }
    case RRType.SOA: {
      const mname = nameAt(start);
      const rname = mname ? nameAt(mname.end) : undefined;
      return rname && rname.end + 20 === end ? Buffer.concat([mname!.wire, rname.wire, message.subarray(rname.end, end)]) : undefined;
    }
    default:
      return Buffer.from(message.subarray(start, end));
  }
}
