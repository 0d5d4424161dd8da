// The compress filter: Accept-Encoding negotiation, which responses are left alone, the head edits, and
// the bytes (each encoding decoded back with node:zlib; a streamed body flushed before its end).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { compressFilterSchema } from '../../../config/index.ts';
import { FlatWriter, FilterHost, builtinFilters } from '../index.ts';
import type { BodyTransform, FilterContext, HttpFilter } from '../types.ts';
import { compressFilter, negotiate } from './index.ts';
import { fakeContext } from '../../../../test/support/filter-kit.ts';

const offered = ['zstd', 'br', 'gzip'] as const;

describe('Accept-Encoding negotiation', () => {
  const cases: [string, string][] = [
    ['gzip, deflate, br, zstd', 'zstd'],
    ['gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=1.0, gzip;q=1', 'br'],
    ['*', 'zstd'],
    ['*;q=0.1, zstd;q=0', 'br'],
    ['gzip;q=0', 'identity'],
    ['identity', 'identity'],
    ['', 'identity'],
    ['deflate', 'identity'],
    ['gzip;q=2', 'identity'],
    ['gzip;q=abc', 'identity'],
    ['gzip;q', 'identity'],
    ['gz{ip', 'identity'],
    [' , gzip ;  q=0.3 ,', 'gzip'],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected}`, () => {
      const index = negotiate(header, offered);
      assert.equal(index === -1 ? 'identity' : offered[index], expected);
    });
  }
  it('follows the configured preference on ties', () => {
    assert.equal(negotiate('gzip, br', ['gzip', 'br']), 0);
  });
});

function build(settings: unknown = {}): HttpFilter {
  const host = new FilterHost({ registry: builtinFilters() });
  return compressFilter.create(compressFilterSchema.parse(settings), host.env('/tmp', '/tmp'));
}

function ctx(headers: Record<string, string>, method = 'GET'): FilterContext {
  return fakeContext({ method, headers });
}

function run(filter: HttpFilter, request: FilterContext, status: number, fields: string[]): { transform: BodyTransform | undefined; head: string[] } {
  const head = fields.slice();
  const transform = filter.onResponse!(
    request,
    new FlatWriter(head),
    {
      status,
      backend: '',
      header: (name) => {
        for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
        return undefined;
      },
      fields: () => fields.slice(),
    },
  ) as BodyTransform | undefined;
  return { transform, head };
}

const json = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) });
const decoders = { gzip: zlib.gunzipSync, br: zlib.brotliDecompressSync, zstd: zlib.zstdDecompressSync } as const;

async function pump(transform: BodyTransform, chunks: string[]): Promise<Buffer> {
  const out: Buffer[] = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const sink = transform.open({ write: (chunk) => out.push(chunk), end: () => ended() });
  for (const chunk of chunks) sink.write(Buffer.from(chunk));
  sink.end();
  await done;
  return Buffer.concat(out);
}

describe('compress filter', () => {
  for (const encoding of offered) {
    it(`compresses with ${encoding}, weakens the ETag, adds Vary`, async () => {
      const { transform, head } = run(build(), ctx({ 'accept-encoding': encoding }), 200, ['content-type', 'application/json', 'content-length', String(json.length), 'etag', '"abc"', 'accept-ranges', 'bytes']);
      assert.ok(transform);
      assert.equal(transform.keepsLength, false);
      assert.deepEqual(head, ['content-type', 'application/json', 'content-length', String(json.length), 'vary', 'Accept-Encoding', 'content-encoding', encoding, 'etag', 'W/"abc"']);
      const body = await pump(transform, [json.slice(0, 1000), json.slice(1000)]);
      assert.ok(body.length < json.length / 3);
      assert.equal(decoders[encoding](body).toString(), json);
    });
  }

  it('leaves alone what it must not or need not compress', () => {
    const filter = build();
    const gz = ctx({ 'accept-encoding': 'gzip' });
    const base = ['content-type', 'text/html', 'content-length', '5000'];
    assert.equal(run(filter, ctx({}), 200, base).transform, undefined, 'no Accept-Encoding: identity');
    assert.deepEqual(run(filter, ctx({}), 200, base).head.slice(-2), ['vary', 'Accept-Encoding'], 'but it varies');
    assert.equal(run(filter, ctx({ 'accept-encoding': 'gzip' }, 'HEAD'), 200, base).transform, undefined, 'HEAD');
    for (const status of [204, 206, 304]) assert.equal(run(filter, gz, status, base).transform, undefined, String(status));
    assert.equal(run(filter, gz, 200, [...base, 'content-encoding', 'br']).transform, undefined, 'already encoded');
    assert.equal(run(filter, gz, 200, [...base, 'cache-control', 'public, no-transform']).transform, undefined, 'no-transform');
    assert.equal(run(filter, gz, 200, ['content-type', 'image/png', 'content-length', '5000']).transform, undefined, 'type not listed');
    assert.equal(run(filter, gz, 200, ['content-type', 'text/event-stream']).transform, undefined, 'event streams by default');
    assert.equal(run(filter, gz, 200, ['content-type', 'text/html', 'content-length', '100']).transform, undefined, 'below min_size');
    assert.ok(run(filter, gz, 200, ['content-type', 'text/html; charset=utf-8']).transform, 'unknown length: compressed');
    assert.ok(run(filter, gz, 404, base).transform, 'error pages too');
    assert.ok(run(filter, gz, 200, ['content-type', 'application/problem+json', 'content-length', '5000']).transform, '+json suffix');
    assert.equal(run(filter, ctx({ 'accept-encoding': 'gzip;q=nonsense' }), 200, base).transform, undefined, 'malformed: identity');
  });

  it('keeps an upstream Vary and does not repeat Accept-Encoding in it', () => {
    const filter = build();
    const gz = ctx({ 'accept-encoding': 'gzip' });
    assert.deepEqual(run(filter, gz, 200, ['content-type', 'text/html', 'vary', 'Origin']).head.slice(2, 6), ['vary', 'Origin', 'vary', 'Accept-Encoding']);
    assert.deepEqual(run(filter, gz, 200, ['content-type', 'text/html', 'vary', 'origin, accept-encoding']).head.filter((v) => v === 'vary').length, 1);
  });

  it('honours encodings, types, min_size and level settings', async () => {
    const filter = build({ encodings: ['gzip'], types: ['text/*'], min_size: '10kb', level: { gzip: 1 } });
    assert.equal(run(filter, ctx({ 'accept-encoding': 'br' }), 200, ['content-type', 'text/css']).transform, undefined);
    assert.equal(run(filter, ctx({ 'accept-encoding': 'gzip' }), 200, ['content-type', 'application/json']).transform, undefined);
    assert.equal(run(filter, ctx({ 'accept-encoding': 'gzip' }), 200, ['content-type', 'text/css', 'content-length', '5000']).transform, undefined);
    const { transform } = run(filter, ctx({ 'accept-encoding': 'gzip' }), 200, ['content-type', 'text/css']);
    assert.equal(zlib.gunzipSync(await pump(transform!, ['a'.repeat(50_000)])).length, 50_000);
    assert.throws(() => compressFilterSchema.parse({ encodings: ['deflate'] }));
    assert.throws(() => compressFilterSchema.parse({ types: ['text/html; charset=utf-8'] }));
    assert.throws(() => compressFilterSchema.parse({ level: { br: 12 } }));
  });

  it('flushes a streamed body: the first chunk comes out before the upstream ends', async () => {
    for (const encoding of offered) {
      const { transform } = run(build(), ctx({ 'accept-encoding': encoding }), 200, ['content-type', 'application/x-ndjson']);
      // the compressed bytes go straight into a decoder: the line must come out of it while the body is open
      const decoder = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'br' ? zlib.createBrotliDecompress() : zlib.createZstdDecompress();
      let text = '';
      let seen!: () => void;
      const line = new Promise<void>((resolve) => (seen = resolve));
      decoder.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text === '{"event":1}\n') seen();
      });
      const sink = transform!.open({ write: (chunk) => decoder.write(chunk), end: () => {} });
      sink.write(Buffer.from('{"event":1}\n'));
      await line;
      decoder.destroy();
      sink.abort!();
    }
  });
});
