// The upstream response's reading state on the HTTP/1.1 exchange: a head split across reads, then the
// body's framing (length left, chunked passed through or decoded, until close), whether it has all come,
// and whether its connection can carry another request. The exchange borrows its connection's one object
// and resets it per request and per try (nothing allocated per request); response-relay.ts drives it.
import { BODY_NONE, BODY_LENGTH, BODY_CHUNKED } from './parse/request-head.ts';
import { BODY_UNTIL_CLOSE, type ResponseHead } from './parse/response-head.ts';
import type { ChunkedDecoder, ChunkSink } from './parse/chunked.ts';
import { copyOf } from './phases.ts';

/** frame()'s answer for a malformed chunked body. */
export const FRAMING_ERROR = -1;

export class UpstreamResponse {
  private acc: Buffer | null = null;
  private accLen = 0;
  private bodyKind = BODY_NONE;
  private remaining = 0;
  private complete = false;
  private decode = false;
  private reusableConnection = false;

  /** A new request, or a new try of it: nothing of a response read. */
  reset(): void {
    this.acc = null;
    this.accLen = 0;
    this.bodyKind = BODY_NONE;
    this.remaining = 0;
    this.complete = false;
    this.decode = false;
    this.reusableConnection = false;
  }

  // ---- the head, while it spans reads ----

  /** Bytes of a head kept from earlier reads (null: none). */
  get partialHead(): Buffer | null {
    return this.acc;
  }
  get partialLength(): number {
    return this.accLen;
  }

  /** Appends buf[s, e) to the kept head bytes (there are some); returns their new length. */
  appendHead(buf: Buffer, s: number, e: number): number {
    const acc = this.acc!;
    const need = this.accLen + (e - s);
    let into = acc;
    if (need > acc.length) {
      into = Buffer.allocUnsafe(Math.max(need, acc.length * 2));
      acc.copy(into, 0, 0, this.accLen);
      this.acc = into;
    }
    buf.copy(into, this.accLen, s, e);
    return need;
  }

  /**
   * No head end yet: keeps buf[s, e) (copied: the read buffer is reused) when nothing was kept, else notes
   * that `total` bytes of the kept buffer are head (appendHead put them there).
   */
  keepHead(buf: Buffer, s: number, e: number, total: number): void {
    if (this.acc === null) {
      this.acc = copyOf(buf, s, e);
      this.accLen = e - s;
    } else this.accLen = total;
  }

  /** The head was parsed: the kept bytes are dropped. */
  headDone(): void {
    this.acc = null;
    this.accLen = 0;
  }

  // ---- the body ----

  /** A final head: the body's framing, and whether the connection may be reused as far as the upstream said. */
  begin(res: ResponseHead): void {
    this.bodyKind = res.bodyKind;
    this.remaining = res.contentLength;
    this.reusableConnection = res.keepAlive;
  }

  get kind(): number {
    return this.bodyKind;
  }
  /** The chunked framing is decoded here (an HTTP/1.0 client, a body transform) rather than passed through. */
  get dechunk(): boolean {
    return this.decode;
  }
  decodeChunks(): void {
    this.decode = true;
  }
  /** The body has all come from the upstream. */
  get done(): boolean {
    return this.complete;
  }
  ended(): void {
    this.complete = true;
  }
  /** The upstream connection may carry another request once this response is read. */
  get reusable(): boolean {
    return this.reusableConnection;
  }
  notReusable(): void {
    this.reusableConnection = false;
  }

  /**
   * Advances the framing over buf[s, e): returns where this response's bytes end (bytes after it are not
   * this response's), or FRAMING_ERROR. Decoded chunk payload goes to `sink`.
   */
  frame(buf: Buffer, s: number, e: number, decoder: ChunkedDecoder, sink: ChunkSink): number {
    switch (this.bodyKind) {
      case BODY_LENGTH: {
        const take = e - s < this.remaining ? e - s : this.remaining;
        this.remaining -= take;
        if (this.remaining === 0) this.complete = true;
        return s + take;
      }
      case BODY_CHUNKED: {
        const end = decoder.decode(buf, s, e, this.decode ? sink : null);
        if (end < 0) return FRAMING_ERROR;
        if (decoder.done) this.complete = true;
        return end;
      }
      case BODY_UNTIL_CLOSE:
        return e;
      default:
        this.complete = true;
        return s;
    }
  }
}
