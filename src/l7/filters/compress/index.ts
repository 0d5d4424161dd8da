// `compress`: compresses response bodies with zstd, br or gzip as the client's Accept-Encoding allows
// (q-values, `*`, q=0 refusals; the server's `encodings` order breaks ties). Leaves alone what must not or
// need not be compressed: HEAD, 1xx/204/206/304, an upstream that already encoded, `no-transform`, types
// not listed, bodies known to be smaller than `min_size`. A response that could be compressed carries
// `Vary: Accept-Encoding` whichever coding it got, so a shared cache keys on it; a compressed one gets a
// weak ETag (the bytes differ from the identity's) and no Content-Length (the path frames it).
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter, ResponseView, BodySink, BodyTransform } from '../types.ts';
import { NegotiationCache } from './negotiate.ts';
import { CompressTransform, defaultLevels } from './encoders.ts';
import { MediaTypeMatcher } from './types-match.ts';

export { negotiate, acceptable } from './negotiate.ts';

export const compressFilter = {
  name: 'compress',
  create(settings, env): HttpFilter {
    const stats = env.stats('compress');
    const transforms = settings.encodings.map((encoding) => new CompressTransform(encoding, settings.level[encoding] ?? defaultLevels[encoding]));
    const negotiation = new NegotiationCache(settings.encodings);
    const types = new MediaTypeMatcher(settings.types);
    const minSize = settings.min_size;

    return {
      name: 'compress',
      onResponse(ctx: FilterContext, head: HeaderWriter, response: ResponseView): BodyTransform | undefined {
        const status = response.status;
        if (status === 204 || status === 206 || status === 304 || status < 200 || ctx.method === 'HEAD') return undefined;
        const encoded = response.header('content-encoding');
        if (encoded !== undefined && encoded.trim().toLowerCase() !== 'identity') return undefined;
        const contentType = response.header('content-type');
        if (contentType === undefined || !types.matches(contentType)) return undefined;
        const cacheControl = response.header('cache-control');
        if (cacheControl !== undefined && cacheControl.toLowerCase().includes('no-transform')) return undefined;
        const lengthField = response.header('content-length');
        const length = lengthField === undefined ? -1 : Number(lengthField);
        if (length === 0) return undefined;
        // eligible: the answer depends on Accept-Encoding from here on, whatever this client gets
        const vary = response.header('vary');
        // a second Vary field is the same list as one joined field (RFC 9110 §5.3), and keeps the upstream's
        if (vary === undefined || !/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) head.add('vary', 'Accept-Encoding');
        if (length > 0 && length < minSize) {
          stats.count('skipped_small');
          return undefined;
        }
        const accept = ctx.header('accept-encoding');
        const choice = accept === undefined ? -1 : negotiation.choose(accept);
        if (choice === -1) {
          stats.count('identity');
          return undefined;
        }
        const transform = transforms[choice];
        head.set('content-encoding', transform.encoding);
        const etag = response.header('etag');
        if (etag !== undefined && etag.startsWith('"')) head.set('etag', `W/${etag}`);
        // byte ranges of the identity body do not apply to the compressed one
        if (response.header('accept-ranges') !== undefined) head.remove('accept-ranges');
        stats.count(transform.encoding);
        if (length <= 0 || transform.encoding !== 'br') return transform;
        return { keepsLength: false, open: (next: BodySink) => transform.open(next, length) };
      },
    };
  },
} satisfies FilterFactory<'compress'>;
