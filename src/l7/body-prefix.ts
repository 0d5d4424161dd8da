// The first bytes of a request body, read ahead for request filters that look at it (a WAF's body rules)
// without consuming them: the bytes stay where they are and the body goes upstream as it came. Chunked
// framing is decoded with a decoder of its own, so the exchange's decoder starts fresh when the body flows.
import { BODY_LENGTH, type RequestHead } from './parse/request-head.ts';
import { ChunkedDecoder, type ChunkSink } from './parse/chunked.ts';

/** What the peek found: the prefix, 'more' (not enough bytes yet), or 'bad' (broken chunked framing). */
export type PrefixPeek = Buffer | 'more' | 'bad';

class Collector implements ChunkSink {
  readonly parts: Buffer[] = [];
  length = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  chunkData(buf: Buffer, start: number, end: number): void {
    const take = Math.min(end - start, this.limit - this.length);
    if (take <= 0) return;
    this.parts.push(Buffer.from(buf.subarray(start, start + take)));
    this.length += take;
  }
}

/**
 * Up to `limit` payload bytes of the body whose bytes so far are buf[s, e). A Content-Length body needs
 * min(limit, length) bytes; a chunked one needs `limit` payload bytes or its end.
 */
export function peekBodyPrefix(head: RequestHead, buf: Buffer, s: number, e: number, limit: number): PrefixPeek {
  if (head.bodyKind === BODY_LENGTH) {
    const need = Math.min(limit, head.contentLength);
    return e - s >= need ? Buffer.from(buf.subarray(s, s + need)) : 'more';
  }
  const decoder = new ChunkedDecoder();
  const collector = new Collector(limit);
  if (decoder.decode(buf, s, e, collector) < 0) return 'bad';
  if (collector.length < limit && !decoder.done) return 'more';
  return collector.parts.length === 1 ? collector.parts[0] : Buffer.concat(collector.parts);
}
