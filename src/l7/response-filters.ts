// The response side of the filter chain on the HTTP/1.1 downstream: the upstream head as a ResponseView,
// and the downstream BodySink a body transform writes into (chunked framing when the transform changes
// the length, backpressure towards the upstream socket, the end of the response when the transform ends).
import type { ProxyExchange } from './exchange.ts';
import type { ResponseHead } from './parse/response-head.ts';
import { equalsLower } from './parse/chars.ts';
import type { BodySink, ResponseView } from './filters/index.ts';
import { P_DONE } from './phases.ts';

/** The upstream's parsed head; valid during the response filters' call only (the head object is reused). */
export class H1ResponseView implements ResponseView {
  private readonly head: ResponseHead;
  readonly backend: string;

  constructor(head: ResponseHead, backend: string) {
    this.head = head;
    this.backend = backend;
  }

  get status(): number {
    return this.head.status;
  }

  header(name: string): string | undefined {
    const head = this.head;
    const o = head.offsets;
    for (let i = 0; i < head.headerCount; i++) {
      const ns = o[i * 4];
      if (o[i * 4 + 1] - ns === name.length && equalsLower(head.raw, ns, name)) return head.raw.toString('latin1', o[i * 4 + 2], o[i * 4 + 3]);
    }
    return undefined;
  }

  fields(): string[] {
    const head = this.head;
    const o = head.offsets;
    const out: string[] = [];
    for (let i = 0; i < head.headerCount; i++) out.push(head.raw.toString('latin1', o[i * 4], o[i * 4 + 1]).toLowerCase(), head.raw.toString('latin1', o[i * 4 + 2], o[i * 4 + 3]));
    return out;
  }
}

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/**
 * Where a transformed body goes: the client connection, framed with chunked encoding when `chunked`
 * (a length the transform changed, to an HTTP/1.1 client) or as it is (a kept length, or until close for
 * HTTP/1.0). end() completes the exchange's response.
 */
export class DownstreamBodySink implements BodySink {
  private readonly ex: ProxyExchange;
  private readonly chunked: boolean;
  ended = false;

  constructor(ex: ProxyExchange, chunked: boolean) {
    this.ex = ex;
    this.chunked = chunked;
  }

  write(chunk: Buffer): void {
    const ex = this.ex;
    if (this.ended || chunk.length === 0 || ex.phase === P_DONE) return;
    const conn = ex.conn;
    let ok: boolean;
    if (this.chunked) {
      const size = Buffer.from(chunk.length.toString(16) + '\r\n', 'latin1');
      conn.write(size);
      conn.write(chunk);
      ok = conn.write(CRLF);
      ex.bytesOut += size.length + chunk.length + 2;
    } else {
      ok = conn.write(chunk);
      ex.bytesOut += chunk.length;
    }
    if (!ok) ex.upstream?.socket.pause();
  }

  /** The transform's input is full: the upstream waits (DownstreamBodySink.release resumes it). */
  hold(): void {
    this.ex.transformHeld = true;
    this.ex.upstream?.socket.pause();
  }

  release(): void {
    const ex = this.ex;
    ex.transformHeld = false;
    // still paused when the client is full: its drain resumes the upstream
    if (ex.phase !== P_DONE && !ex.conn.socket.writableNeedDrain) ex.upstream?.socket.resume();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const ex = this.ex;
    if (ex.phase === P_DONE) return;
    if (this.chunked) {
      ex.conn.write(LAST_CHUNK);
      ex.bytesOut += LAST_CHUNK.length;
    }
    ex.responseComplete();
  }
}
