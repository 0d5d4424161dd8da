// Static files served by the edge (route action `static:`): the demo's page, a site's assets.
// Async I/O only; paths are confined to the root (no `..`, no NUL, no symlink escape); conditional requests
// (ETag / If-None-Match, Last-Modified / If-Modified-Since) answer 304; single byte ranges answer 206.
// With `precompressed`, a `.zst` / `.br` / `.gz` sibling the client accepts is served in the file's place.
import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HttpDate } from '../../core/index.ts';
import type { CompressEncoding } from '../../config/index.ts';
import { acceptableEncodings } from '../filters/index.ts';

export interface StaticOptions {
  /** Absolute directory. */
  root: string;
  index: string;
  cacheControl?: string;
  spaFallback: boolean;
  /** Codings whose siblings are looked for, in preference order (none when absent or empty). */
  precompressed?: readonly CompressEncoding[];
  /** Every response carries its Date (the listener's per-second cache; a fresh one when absent). */
  date?: HttpDate;
}

export interface StaticRequest {
  method: string;
  /** Path after strip_prefix/rewrite, without the query, still percent-encoded. */
  path: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  range?: string;
  acceptEncoding?: string;
}

export interface StaticResponse {
  status: number;
  /** Flat name/value list. */
  headers: string[];
  /** null for HEAD, 304 and errors with no body. */
  body: Buffer | Readable | null;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.xml': 'application/xml',
};

const plain = (date: HttpDate, status: number, text: string, extra: string[] = []): StaticResponse => {
  const body = Buffer.from(`${text}\n`);
  return { status, headers: ['date', date.value(), 'content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), ...extra], body };
};

/** Weak validator from size and modification time: cheap, and changes whenever the file does. */
const etagOf = (stats: Stats, encoding = ''): string => `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}${encoding === '' ? '' : `-${encoding}`}"`;

const siblingSuffix: Readonly<Record<CompressEncoding, string>> = { zstd: '.zst', br: '.br', gzip: '.gz' };

/** The file actually sent: the original, or a precompressed sibling and its coding. */
interface Representation {
  file: string;
  stats: Stats;
  encoding: string;
}

export class StaticFiles {
  private readonly options: StaticOptions;
  readonly date: HttpDate;
  private rootReal: string | undefined;

  constructor(options: StaticOptions) {
    this.options = options;
    this.date = options.date ?? new HttpDate();
  }

  async serve(request: StaticRequest): Promise<StaticResponse> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(this.date, 405, 'method not allowed', ['allow', 'GET, HEAD']);
    let decoded: string;
    try {
      decoded = decodeURIComponent(request.path);
    } catch {
      return plain(this.date, 400, 'bad path');
    }
    if (decoded.includes('\0') || decoded.split('/').includes('..')) return plain(this.date, 400, 'bad path');
    this.rootReal ??= await realpath(this.options.root).catch(() => path.resolve(this.options.root));
    let file = path.join(this.rootReal, decoded);
    let stats = await this.statInside(file);
    if (stats?.isDirectory()) {
      file = path.join(file, this.options.index);
      stats = await this.statInside(file);
    }
    if (!stats?.isFile()) {
      if (!this.options.spaFallback) return plain(this.date, 404, 'not found');
      file = path.join(this.rootReal, this.options.index);
      stats = await this.statInside(file);
      if (!stats?.isFile()) return plain(this.date, 404, 'not found');
    }
    const precompressed = this.options.precompressed;
    if (precompressed === undefined || precompressed.length === 0) return this.respond(request, file, stats, null);
    return this.respond(request, file, stats, await this.sibling(request, file, precompressed));
  }

  /** The first sibling the client accepts that exists (none for a Range request: ranges are of the original). */
  private async sibling(request: StaticRequest, file: string, offered: readonly CompressEncoding[]): Promise<Representation | undefined> {
    if (request.acceptEncoding === undefined || request.range !== undefined) return undefined;
    for (const index of acceptableEncodings(request.acceptEncoding, offered)) {
      const encoding = offered[index];
      const candidate = file + siblingSuffix[encoding];
      const stats = await this.statInside(candidate);
      if (stats?.isFile()) return { file: candidate, stats, encoding };
    }
    return undefined;
  }

  /** Stats a path only if its real location is inside the root (a symlink out of it counts as absent). */
  private async statInside(file: string): Promise<Stats | undefined> {
    try {
      const real = await realpath(file);
      if (real !== this.rootReal && !real.startsWith(this.rootReal + path.sep)) return undefined;
      return await stat(real);
    } catch {
      return undefined;
    }
  }

  /** `sibling`: null when the route serves no precompressed files, undefined when this request gets the original. */
  private respond(request: StaticRequest, original: string, originalStats: Stats, sibling: Representation | undefined | null): StaticResponse {
    const file = sibling?.file ?? original;
    const stats = sibling?.stats ?? originalStats;
    const etag = etagOf(stats, sibling?.encoding);
    const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000).toUTCString();
    const headers = ['date', this.date.value(), 'etag', etag, 'last-modified', lastModified, 'accept-ranges', 'bytes'];
    if (this.options.cacheControl) headers.push('cache-control', this.options.cacheControl);
    // the answer depends on Accept-Encoding whichever representation this client gets
    if (sibling !== null) headers.push('vary', 'Accept-Encoding');
    if (sibling !== undefined && sibling !== null) headers.push('content-encoding', sibling.encoding);

    const notModified = request.ifNoneMatch !== undefined
      ? request.ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*' || tag.trim() === etag.slice(2))
      : request.ifModifiedSince !== undefined && Date.parse(request.ifModifiedSince) >= Date.parse(lastModified);
    if (notModified) return { status: 304, headers, body: null };

    headers.push('content-type', contentTypes[path.extname(original).toLowerCase()] ?? 'application/octet-stream');
    let start = 0;
    let end = stats.size - 1;
    let status = 200;
    const range = request.range !== undefined ? /^bytes=(\d*)-(\d*)$/.exec(request.range.trim()) : null;
    if (range && (range[1] !== '' || range[2] !== '')) {
      if (range[1] === '') start = Math.max(0, stats.size - Number(range[2]));
      else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(end, Number(range[2]));
      }
      if (start > end || start >= stats.size) return plain(this.date, 416, 'range not satisfiable', ['content-range', `bytes */${stats.size}`]);
      status = 206;
      headers.push('content-range', `bytes ${start}-${end}/${stats.size}`);
    }
    const length = stats.size === 0 ? 0 : end - start + 1;
    headers.push('content-length', String(length));
    if (request.method === 'HEAD' || length === 0) return { status, headers, body: null };
    return { status, headers, body: createReadStream(file, { start, end, highWaterMark: 64 * 1024 }) };
  }
}
