// One zlib stream per compressed response, and the flush that lets a streamed body out: after each burst of
// input (the end of the event-loop turn that wrote it), so server-sent events and streamed JSON reach the
// client as they come instead of waiting for the compressor's window to fill.
import zlib from 'node:zlib';
import type { CompressEncoding } from '../../../config/index.ts';
import type { BodySink, BodyTransform } from '../types.ts';

const { constants } = zlib;

export const defaultLevels: Readonly<Record<CompressEncoding, number>> = { gzip: 6, br: 4, zstd: 3 };

const flushKind: Readonly<Record<CompressEncoding, number>> = {
  gzip: constants.Z_SYNC_FLUSH,
  br: constants.BROTLI_OPERATION_FLUSH,
  zstd: constants.ZSTD_e_flush,
};

function createStream(encoding: CompressEncoding, level: number, sizeHint: number): zlib.Gzip | zlib.BrotliCompress | zlib.ZstdCompress {
  if (encoding === 'gzip') return zlib.createGzip({ level });
  if (encoding === 'br') {
    const params: Record<number, number> = { [constants.BROTLI_PARAM_QUALITY]: level, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT };
    if (sizeHint > 0) params[constants.BROTLI_PARAM_SIZE_HINT] = sizeHint;
    return zlib.createBrotliCompress({ params });
  }
  return zlib.createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: level } });
}

/** The body transform of one encoding at one level (built once per filter; `open` makes the stream). */
export class CompressTransform implements BodyTransform {
  readonly keepsLength = false;
  readonly encoding: CompressEncoding;
  private readonly level: number;

  constructor(encoding: CompressEncoding, level: number) {
    this.encoding = encoding;
    this.level = level;
  }

  open(next: BodySink, sizeHint = 0): BodySink & { abort(): void } {
    const stream = createStream(this.encoding, this.level, sizeHint);
    const kind = flushKind[this.encoding];
    let flushPending = false;
    let ended = false;
    /** The path was asked to stop the upstream: zlib's input backlog is past its high-water mark. */
    let held = false;
    const flush = (): void => {
      flushPending = false;
      if (!ended) stream.flush(kind);
    };
    stream.on('data', (chunk: Buffer) => next.write(chunk));
    stream.once('end', () => next.end());
    stream.on('drain', () => {
      if (!held) return;
      held = false;
      next.release?.();
    });
    // a compressor fails only on misuse or memory exhaustion: the response cannot be finished either way
    stream.once('error', () => next.end());
    return {
      write(chunk) {
        if (ended) return;
        if (!stream.write(chunk) && !held && next.hold !== undefined) {
          held = true;
          next.hold();
        }
        if (!flushPending) {
          flushPending = true;
          setImmediate(flush);
        }
      },
      end() {
        if (ended) return;
        ended = true;
        stream.end();
      },
      abort() {
        ended = true;
        stream.destroy();
      },
    };
  }
}
