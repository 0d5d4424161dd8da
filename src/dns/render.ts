// Turning answers into response bytes for one query: the hot path for precomputed answers (copy, patch ID,
// flags and apex pointer, echo the client's question with its case, append OPT), plus the small responses
// (errors, truncation) and the writer used by dynamic answers (pools, resolver).
import { CLASSIC_UDP_SIZE, Flag, HEADER_SIZE, OPT_SIZE, RRType, Rcode } from './wire/constants.ts';
import type { DnsQuery } from './wire/query.ts';
import { MessageWriter } from './wire/writer.ts';
import type { PreparedAnswer } from './zone/prepared.ts';

/** Transport facts a response depends on. */
export interface ResponseLimits {
  /** Largest response we may send: 65535 over TCP; over UDP the client's EDNS size capped by ours, or 512. */
  readonly max: number;
  /** UDP size we advertise in our OPT. */
  readonly advertise: number;
}

export function limitsFor(query: DnsQuery, transport: 'udp' | 'tcp', maxUdp: number): ResponseLimits {
  if (transport === 'tcp') return { max: 65535, advertise: maxUdp };
  return { max: query.ednsVersion >= 0 ? Math.min(query.ednsSize, maxUdp) : CLASSIC_UDP_SIZE, advertise: maxUdp };
}

/** Bits of the query's flags a response carries over: opcode (always 0 here), RD and CD. */
function echoedFlags(query: DnsQuery): number {
  return query.flags & (Flag.RD | Flag.CD);
}

export function renderPrepared(query: DnsQuery, answer: PreparedAnswer, limits: ResponseLimits): Buffer {
  const questionEnd = query.questionEnd;
  const body = answer.body;
  const edns = query.ednsVersion >= 0;
  const total = questionEnd + body.length + (edns ? OPT_SIZE : 0);
  if (total > limits.max) return renderTruncated(query, answer.header.readUInt16BE(2), limits);
  const message = query.message;
  const out = Buffer.allocUnsafe(total);
  // TypedArray set and a short loop: Buffer#copy's argument checks cost more than these few bytes
  out.set(answer.header, 0);
  out[0] = message[0];
  out[1] = message[1];
  out[2] |= message[2] & 0x01; // RD
  out[3] |= message[3] & 0x10; // CD
  for (let i = HEADER_SIZE; i < questionEnd; i++) out[i] = message[i];
  out.set(body, questionEnd);
  if (answer.apexPatch >= 0) out.writeUInt16BE(0xc000 | (HEADER_SIZE + query.key.length - answer.apexKeyLength), questionEnd + answer.apexPatch);
  if (edns) {
    writeOpt(out, total - OPT_SIZE, limits.advertise, 0);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  }
  return out;
}

function writeOpt(out: Buffer, at: number, advertise: number, extendedRcode: number): void {
  out[at] = 0;
  out.writeUInt16BE(RRType.OPT, at + 1);
  out.writeUInt16BE(advertise, at + 3);
  out.writeUInt32BE((extendedRcode << 24) >>> 0, at + 5);
  out.writeUInt16BE(0, at + 9);
}

/** Header, question and OPT only: for REFUSED, SERVFAIL, NOTIMP, BADVERS and truncation. */
export function renderEmpty(query: DnsQuery, flags: number, limits: ResponseLimits, extendedRcode = 0): Buffer {
  const edns = query.ednsVersion >= 0;
  const questionEnd = query.questionEnd;
  const out = Buffer.allocUnsafe(questionEnd + (edns ? OPT_SIZE : 0));
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(Flag.QR | echoedFlags(query) | flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  query.message.copy(out, HEADER_SIZE, HEADER_SIZE, questionEnd);
  if (edns) writeOpt(out, questionEnd, limits.advertise, extendedRcode);
  return out;
}

export function renderRcode(query: DnsQuery, rcode: number, limits: ResponseLimits): Buffer {
  // extended rcodes (BADVERS = 16) keep their low 4 bits in the header and the rest in OPT (RFC 6891 6.1.3)
  if (rcode === Rcode.BADVERS) return renderEmpty(query, 0, limits, 1);
  return renderEmpty(query, rcode, limits);
}

/** An answer that does not fit: TC set, sections empty, so the client retries over TCP (RFC 1035 4.2.1). */
export function renderTruncated(query: DnsQuery, answerFlags: number, limits: ResponseLimits): Buffer {
  return renderEmpty(query, (answerFlags & (Flag.AA | 0xf)) | Flag.TC, limits);
}

/** Header-only answer to a message that did not parse (FORMERR, NOTIMP): ID, opcode and RD echoed. */
export function renderParseFailure(message: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out[0] = message[0];
  out[1] = message[1];
  out[2] = 0x80 | (message[2] & 0x79); // QR, opcode, RD
  out[3] = rcode;
  return out;
}

/** A writer positioned after the client's question (answers may point at offset 12 for the question name). */
export function responseWriter(query: DnsQuery): MessageWriter {
  const writer = new MessageWriter();
  writer.header(query.id, 0, 1, 0, 0, 0);
  // written through the compressor (bytes unchanged, client's case kept) so answers point back at it
  writer.question(query.message.subarray(HEADER_SIZE, query.questionEnd - 4), query.qtype, query.qclass);
  return writer;
}

/** Completes a dynamic response: flags, counts, OPT; truncates when it does not fit. */
export function finishResponse(query: DnsQuery, writer: MessageWriter, flags: number, counts: readonly [number, number, number], limits: ResponseLimits): Buffer {
  const edns = query.ednsVersion >= 0;
  if (edns) writer.opt(limits.advertise);
  writer.header(query.id, Flag.QR | echoedFlags(query) | flags, 1, counts[0], counts[1], counts[2] + (edns ? 1 : 0));
  const out = writer.finish();
  if (out.length > limits.max) return renderTruncated(query, flags, limits);
  return out;
}

/** The TC-only form of a response we were about to send (rate limiting's slip): header and question. */
export function truncateResponse(response: Buffer): Buffer {
  let end = HEADER_SIZE;
  if (response.readUInt16BE(4) === 1) {
    while (end < response.length && response[end] !== 0) end += response[end] + 1;
    end += 5;
  }
  const out = Buffer.from(response.subarray(0, Math.min(end, response.length)));
  out[2] |= 0x02; // TC
  out.writeUInt16BE(out.length > HEADER_SIZE ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  return out;
}
