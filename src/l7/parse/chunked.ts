// Incremental, strict chunked-coding decoder (RFC 9112 7.1). The proxy forwards chunked bodies as they
// came (framing already valid), so the decoder mostly validates and finds where the message ends; a
// consumer that needs the payload (HTTP/1.0 downstream, HTTP/2) passes a sink and gets data spans.
import { HEX, TOKEN, FIELD_VALUE, CR, LF, SP, HTAB } from './chars.ts';
import { classifyName, H_HOST, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION, H_HOP, H_UPGRADE, H_EXPECT } from './request-head.ts';

export interface ChunkSink {
  chunkData(buf: Buffer, start: number, end: number): void;
}

const S_SIZE = 0;
const S_SIZE_WS = 1;
const S_EXT = 2;
const S_SIZE_LF = 3;
const S_DATA = 4;
const S_DATA_CR = 5;
const S_DATA_LF = 6;
const S_TRAILER_START = 7;
const S_TRAILER_LINE = 8;
const S_TRAILER_LF = 9;
const S_END_LF = 10;
const S_DONE = 11;
const S_QUOTED = 12;
const S_QUOTED_ESC = 13;

/** Largest chunk size accepted: 2^52, so the running count stays an exact integer. */
const MAX_SIZE_DIGITS = 13;

/** Trailer name bytes kept for classifyName: the longest name it matches exactly is 17, "proxy-" is a prefix. */
const TRAILER_NAME_KEPT = 18;

/**
 * Fields that must not come as trailers (RFC 9110 6.5.1: framing, routing, connection control and request
 * modifiers are needed before the content). Chunked bodies are forwarded as they came, so such a trailer
 * would reach the peer: llhttp refuses a message with Content-Length or Transfer-Encoding in its trailers,
 * and a parser that merges trailers into the header section would reframe or reroute the message.
 */
function forbiddenTrailer(name: Buffer, len: number): boolean {
  const kind = classifyName(name, 0, len < TRAILER_NAME_KEPT ? len : TRAILER_NAME_KEPT);
  return kind === H_HOST || kind === H_CONTENT_LENGTH || kind === H_TRANSFER_ENCODING || kind === H_CONNECTION || kind === H_HOP || kind === H_UPGRADE || kind === H_EXPECT;
}

export class ChunkedDecoder {
  private state = S_SIZE;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;
  private trailerHasColon = false;
  private trailerNameLen = 0;
  /** The current trailer name's first bytes (allocated on the first trailer: most bodies have none). */
  private trailerName: Buffer | null = null;
  /** Payload bytes seen so far (for body-size limits and logs). */
  payload = 0;
  private readonly maxTrailerSize: number;

  constructor(maxTrailerSize = 16 * 1024) {
    this.maxTrailerSize = maxTrailerSize;
  }

  reset(): void {
    this.state = S_SIZE;
    this.remaining = 0;
    this.digits = 0;
    this.payload = 0;
    this.trailerBytes = 0;
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  /**
   * Consumes buf[start, end). Returns the index just past the message's last byte when it ended inside
   * the range, `end` when more is needed, or -1 when the framing is invalid.
   */
  decode(buf: Buffer, start: number, end: number, sink: ChunkSink | null): number {
    let i = start;
    let state = this.state;
    while (i < end) {
      const b = buf[i];
      switch (state) {
        case S_SIZE: {
          const h = HEX[b];
          if (h !== 255) {
            if (++this.digits > MAX_SIZE_DIGITS) return -1;
            this.remaining = this.remaining * 16 + h;
            i++;
            continue;
          }
          if (this.digits === 0) return -1;
          if (b === CR) state = S_SIZE_LF;
          else if (b === 0x3b) state = S_EXT;
          else if (b === SP || b === HTAB) state = S_SIZE_WS;
          else return -1;
          i++;
          continue;
        }
        case S_SIZE_WS:
          // BWS is allowed only before a chunk extension
          if (b === SP || b === HTAB) {
            i++;
            continue;
          }
          if (b !== 0x3b) return -1;
          state = S_EXT;
          i++;
          continue;
        case S_EXT:
          if (b === CR) state = S_SIZE_LF;
          else if (b === 0x22) state = S_QUOTED;
          else if (TOKEN[b] !== 1 && b !== 0x3d && b !== 0x3b && b !== SP && b !== HTAB) return -1;
          if (++this.lineBytes > 4096) return -1;
          i++;
          continue;
        case S_QUOTED:
          if (b === 0x22) state = S_EXT;
          else if (b === 0x5c) state = S_QUOTED_ESC;
          else if (FIELD_VALUE[b] !== 1) return -1;
          if (++this.lineBytes > 4096) return -1;
          i++;
          continue;
        case S_QUOTED_ESC:
          if (FIELD_VALUE[b] !== 1) return -1;
          state = S_QUOTED;
          i++;
          continue;
        case S_SIZE_LF:
          if (b !== LF) return -1;
          i++;
          this.digits = 0;
          this.lineBytes = 0;
          if (this.remaining === 0) {
            state = S_TRAILER_START;
          } else {
            state = S_DATA;
          }
          continue;
        case S_DATA: {
          const available = end - i;
          const take = available < this.remaining ? available : this.remaining;
          if (sink !== null) sink.chunkData(buf, i, i + take);
          this.remaining -= take;
          this.payload += take;
          i += take;
          if (this.remaining === 0) state = S_DATA_CR;
          continue;
        }
        case S_DATA_CR:
          if (b !== CR) return -1;
          state = S_DATA_LF;
          i++;
          continue;
        case S_DATA_LF:
          if (b !== LF) return -1;
          state = S_SIZE;
          i++;
          continue;
        case S_TRAILER_START:
          if (b === CR) {
            state = S_END_LF;
            i++;
            continue;
          }
          if (TOKEN[b] !== 1) return -1; // obs-fold or junk
          this.trailerHasColon = false;
          this.trailerNameLen = 0;
          state = S_TRAILER_LINE;
          continue;
        case S_TRAILER_LINE:
          if (++this.trailerBytes > this.maxTrailerSize) return -1;
          if (b === CR) {
            if (!this.trailerHasColon) return -1;
            state = S_TRAILER_LF;
          } else if (!this.trailerHasColon) {
            if (b === 0x3a) {
              if (this.trailerNameLen === 0) return -1;
              if (forbiddenTrailer(this.trailerName!, this.trailerNameLen)) return -1;
              this.trailerHasColon = true;
            } else if (TOKEN[b] !== 1) return -1;
            else {
              if (this.trailerNameLen < TRAILER_NAME_KEPT) (this.trailerName ??= Buffer.allocUnsafe(TRAILER_NAME_KEPT))[this.trailerNameLen] = b;
              this.trailerNameLen++;
            }
          } else if (FIELD_VALUE[b] !== 1) return -1;
          i++;
          continue;
        case S_TRAILER_LF:
          if (b !== LF) return -1;
          state = S_TRAILER_START;
          i++;
          continue;
        case S_END_LF:
          if (b !== LF) return -1;
          this.state = S_DONE;
          return i + 1;
        case S_DONE:
          this.state = state;
          return i;
      }
    }
    this.state = state;
    return end;
  }
}
