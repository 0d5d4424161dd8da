// Static files served by the edge (route action `static:`): the demo's page, a site's assets.
// Async I/O only; paths are confined to the root (no `..`, no NUL, no symlink escape); conditional requests
// (ETag / If-None-Match, Last-Modified / If-Modified-Since) answer 304; single byte ranges answer 206.
// With `precompressed`, a `.zst` / `.br` / `.gz` sibling the client accepts is served in the file's place.
// What a request path resolves to is kept in an open-file cache (open-file-cache.ts): a request for a known
// file does no file-system call, and its HTTP/1.1 answer is bytes built once per second (`cached`).
import { createReadStream, read as readCb } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HttpDate } from '../../core/index.ts';
import type { CompressEncoding } from '../../config/index.ts';
import { acceptableEncodings } from '../filters/index.ts';
import { reasonPhrase } from '../reason.ts';
import { OpenFileCache, defaultOpenFileCacheOptions, type OpenFile, type OpenFileCacheOptions } from './open-file-cache.ts';

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
  /** Open-file cache bounds and check interval (defaultOpenFileCacheOptions for what is not given). */
  cache?: Partial<OpenFileCacheOptions>;
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

const siblingSuffix: Readonly<Record<CompressEncoding, string>> = { zstd: '.zst', br: '.br', gzip: '.gz' };

/**
 * One file as one route serves it (the original, or a precompressed sibling with its coding): validators,
 * the head fields, and the HTTP/1.1 answers built for the current second (a hit writes them as they are).
 */
export class StaticView {
  readonly file: OpenFile;
  /** Weak validator from size and modification time: cheap, and changes whenever the file does. */
  readonly etag: string;
  readonly lastModified: string;
  private readonly lastModifiedMs: number;
  readonly contentType: string;
  /** '' for the original. */
  readonly encoding: string;
  /** The route serves precompressed siblings: every answer varies on Accept-Encoding. */
  readonly vary: boolean;
  private readonly cacheControl: string | undefined;
  /** `etag … content-encoding` lines, shared by 200 and 304. */
  private readonly validatorLines: string;
  // the memo: answers for one Date value and one set of connection lines
  private memoDate = '';
  private memoLines = '';
  private ok: Buffer | null = null;
  private okHead = 0;
  private notModifiedBytes: Buffer | null = null;

  constructor(file: OpenFile, encoding: string, vary: boolean, contentType: string, cacheControl: string | undefined) {
    this.file = file;
    this.encoding = encoding;
    this.vary = vary;
    this.contentType = contentType;
    this.cacheControl = cacheControl;
    this.etag = `W/"${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}${encoding === '' ? '' : `-${encoding}`}"`;
    this.lastModifiedMs = Math.floor(file.mtimeMs / 1000) * 1000;
    this.lastModified = new Date(this.lastModifiedMs).toUTCString();
    let lines = `etag: ${this.etag}\r\nlast-modified: ${this.lastModified}\r\naccept-ranges: bytes\r\n`;
    if (cacheControl) lines += `cache-control: ${cacheControl}\r\n`;
    if (vary) lines += 'vary: Accept-Encoding\r\n';
    if (encoding !== '') lines += `content-encoding: ${encoding}\r\n`;
    this.validatorLines = lines;
  }

  /** If-None-Match (weak comparison, `*`) or else If-Modified-Since says the client's copy is current. */
  notModified(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch === this.etag) return true;
      for (const candidate of ifNoneMatch.split(',')) {
        const tag = candidate.trim();
        if (tag === this.etag || tag === '*' || tag === this.etag.slice(2)) return true;
      }
      return false;
    }
    return ifModifiedSince !== undefined && Date.parse(ifModifiedSince) >= this.lastModifiedMs;
  }

  /** Flat head fields for a 200/206 (`range`: content-range and length of the part) or a 304. */
  headers(date: string, status: number, length: number, contentRange: string | undefined): string[] {
    const headers = ['date', date, 'etag', this.etag, 'last-modified', this.lastModified, 'accept-ranges', 'bytes'];
    if (this.cacheControl) headers.push('cache-control', this.cacheControl);
    if (this.vary) headers.push('vary', 'Accept-Encoding');
    if (this.encoding !== '') headers.push('content-encoding', this.encoding);
    if (status === 304) return headers;
    headers.push('content-type', this.contentType);
    if (contentRange !== undefined) headers.push('content-range', contentRange);
    headers.push('content-length', String(length));
    return headers;
  }

  /**
   * The whole HTTP/1.1 answer for a GET/HEAD without Range: the 304, or the 200 head with the file's bytes
   * when they are in memory (`head`, or a streamed file: the head alone). `lines`: Connection and listener
   * lines, each ending in CRLF. Rebuilt when the Date or the lines differ from the last call.
   */
  wire(notModified: boolean, date: HttpDate, lines: string, head: boolean): Buffer {
    const now = date.value();
    if (now !== this.memoDate || lines !== this.memoLines) {
      this.memoDate = now;
      this.memoLines = lines;
      this.ok = null;
      this.notModifiedBytes = null;
    }
    if (notModified) return (this.notModifiedBytes ??= Buffer.from(`HTTP/1.1 304 ${reasonPhrase(304)}\r\ndate: ${now}\r\n${this.validatorLines}${lines}\r\n`, 'latin1'));
    let ok = this.ok;
    if (ok === null) {
      const text = `HTTP/1.1 200 OK\r\ndate: ${now}\r\n${this.validatorLines}content-type: ${this.contentType}\r\ncontent-length: ${this.file.size}\r\n${lines}\r\n`;
      const body = this.file.body;
      this.okHead = Buffer.byteLength(text, 'latin1');
      ok = Buffer.allocUnsafeSlow(this.okHead + (body === null ? 0 : body.length));
      ok.write(text, 0, 'latin1');
      if (body !== null) body.copy(ok, this.okHead);
      this.ok = ok;
    }
    return head || this.file.body === null ? ok.subarray(0, this.okHead) : ok;
  }
}

/** What one request path resolved to, for the hit path: valid while the cache's generation holds and for `validMs`. */
interface Resolved {
  generation: number;
  /** Oldest check of the entries it was built from. */
  checkedAt: number;
  original: StaticView;
  /** Per offered coding, in the route's order: the sibling, or null when there is none (null: the route offers none). */
  siblings: (StaticView | null)[] | null;
}

const readAt = readCb;

export class StaticFiles {
  private readonly options: StaticOptions;
  readonly date: HttpDate;
  private rootReal: string | undefined;
  private cache: OpenFileCache | undefined;
  private readonly resolved = new Map<string, Resolved>();
  private closed = false;

  constructor(options: StaticOptions) {
    this.options = options;
    this.date = options.date ?? new HttpDate();
  }

  /**
   * The hit path: the representation for a GET/HEAD without Range whose path was resolved within the
   * cache's check interval and nothing changed since (no file-system call, nothing allocated). Undefined:
   * ask serve().
   */
  cached(request: StaticRequest): StaticView | undefined {
    const cache = this.cache;
    if (cache === undefined || request.range !== undefined || (request.method !== 'GET' && request.method !== 'HEAD')) return undefined;
    const found = this.resolved.get(request.path);
    if (found === undefined || found.generation !== cache.generation || cache.now() - found.checkedAt >= cache.validMs) return undefined;
    return this.pick(found, request);
  }

  /** A body stream for a view whose bytes are not in memory (the kept descriptor; released when the stream closes). */
  stream(view: StaticView, start: number, end: number): Readable {
    const file = view.file;
    const cache = this.cache;
    if (file.fd < 0 || cache === undefined) return createReadStream(file.real, { start, end, highWaterMark: 64 * 1024 });
    cache.acquire(file);
    let released = false;
    // positioned reads on the shared descriptor; "closing" it only releases this stream's hold
    return createReadStream('', {
      fd: file.fd,
      start,
      end,
      highWaterMark: 64 * 1024,
      fs: {
        read: readAt,
        close: (_fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
          if (!released) {
            released = true;
            cache.release(file);
          }
          callback(null);
        },
      },
    });
  }

  /** The route is gone (reload, stop): drops the cache; answers in flight finish, later requests go uncached. */
  close(): void {
    this.closed = true;
    this.resolved.clear();
    this.cache?.close();
  }

  async serve(request: StaticRequest): Promise<StaticResponse> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return plain(this.date, 405, 'method not allowed', ['allow', 'GET, HEAD']);
    const hit = this.cached(request);
    if (hit !== undefined) return this.respond(request, hit);
    let decoded: string;
    try {
      decoded = decodeURIComponent(request.path);
    } catch {
      return plain(this.date, 400, 'bad path');
    }
    if (decoded.includes('\0') || decoded.split('/').includes('..')) return plain(this.date, 400, 'bad path');
    const resolved = await this.resolve(request.path, decoded);
    if (resolved === undefined) return plain(this.date, 404, 'not found');
    const view = this.pick(resolved, request);
    const response = this.respond(request, view);
    this.cache!.settle(view.file);
    return response;
  }

  private async open(): Promise<OpenFileCache> {
    if (this.cache !== undefined) return this.cache;
    const rootReal = await realpath(this.options.root).catch(() => path.resolve(this.options.root));
    if (this.cache !== undefined) return this.cache;
    this.rootReal = rootReal;
    const inside = (real: string): boolean => real === rootReal || real.startsWith(rootReal + path.sep);
    this.cache = new OpenFileCache({ ...defaultOpenFileCacheOptions, ...this.options.cache }, inside);
    if (this.closed) this.cache.close();
    return this.cache;
  }

  /** Looks a request path up through the open-file cache: the file, a directory's index, the SPA fallback, siblings. */
  private async resolve(key: string, decoded: string): Promise<Resolved | undefined> {
    const cache = await this.open();
    const root = this.rootReal!;
    const generation = cache.generation;
    let file = await cache.lookup(path.join(root, decoded));
    let checkedAt = file?.checkedAt ?? Infinity;
    if (file?.directory) {
      file = await cache.lookup(path.join(file.key, this.options.index));
      checkedAt = Math.min(checkedAt, file?.checkedAt ?? Infinity);
    }
    if (file === undefined || file.directory) {
      if (!this.options.spaFallback) return undefined;
      file = await cache.lookup(path.join(root, this.options.index));
      if (file === undefined || file.directory) return undefined;
      checkedAt = Math.min(checkedAt, file.checkedAt);
    }
    const contentType = contentTypes[path.extname(file.key).toLowerCase()] ?? 'application/octet-stream';
    const offered = this.options.precompressed;
    const vary = offered !== undefined && offered.length > 0;
    let siblings: (StaticView | null)[] | null = null;
    if (vary) {
      siblings = [];
      for (const encoding of offered) {
        const sibling = await cache.lookup(file.key + siblingSuffix[encoding]);
        siblings.push(sibling === undefined || sibling.directory ? null : this.view(sibling, encoding, true, contentType));
        if (sibling !== undefined) checkedAt = Math.min(checkedAt, sibling.checkedAt);
      }
    }
    const resolved: Resolved = { generation, checkedAt, original: this.view(file, '', vary, contentType), siblings };
    if (!this.closed) {
      this.resolved.delete(key);
      this.resolved.set(key, resolved);
      // bounded like the cache itself: the oldest resolutions go first
      if (this.resolved.size > defaultOpenFileCacheOptions.maxEntries) this.resolved.delete(this.resolved.keys().next().value!);
    }
    return resolved;
  }

  /** The view of `file` with these parameters (kept with the entry, so its memo outlives one resolution). */
  private view(file: OpenFile, encoding: string, vary: boolean, contentType: string): StaticView {
    let views = file.memo as StaticView[] | undefined;
    if (views === undefined) file.memo = views = [];
    for (const view of views) if (view.encoding === encoding && view.vary === vary && view.contentType === contentType) return view;
    const view = new StaticView(file, encoding, vary, contentType, this.options.cacheControl);
    views.push(view);
    return view;
  }

  /** The representation this request gets: the first sibling it accepts that exists, else the original (always for ranges). */
  private pick(resolved: Resolved, request: StaticRequest): StaticView {
    const siblings = resolved.siblings;
    if (siblings === null || request.acceptEncoding === undefined || request.range !== undefined) return resolved.original;
    for (const index of acceptableEncodings(request.acceptEncoding, this.options.precompressed!)) {
      const sibling = siblings[index];
      if (sibling !== null) return sibling;
    }
    return resolved.original;
  }

  private respond(request: StaticRequest, view: StaticView): StaticResponse {
    const size = view.file.size;
    const date = this.date.value();
    if (view.notModified(request.ifNoneMatch, request.ifModifiedSince)) return { status: 304, headers: view.headers(date, 304, 0, undefined), body: null };
    let start = 0;
    let end = size - 1;
    let status = 200;
    let contentRange: string | undefined;
    const range = request.range !== undefined ? /^bytes=(\d*)-(\d*)$/.exec(request.range.trim()) : null;
    if (range && (range[1] !== '' || range[2] !== '')) {
      if (range[1] === '') start = Math.max(0, size - Number(range[2]));
      else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(end, Number(range[2]));
      }
      if (start > end || start >= size) return plain(this.date, 416, 'range not satisfiable', ['content-range', `bytes */${size}`]);
      status = 206;
      contentRange = `bytes ${start}-${end}/${size}`;
    }
    const length = size === 0 ? 0 : end - start + 1;
    const headers = view.headers(date, status, length, contentRange);
    if (request.method === 'HEAD' || length === 0) return { status, headers, body: null };
    const body = view.file.body;
    if (body !== null) return { status, headers, body: status === 200 ? body : body.subarray(start, end + 1) };
    return { status, headers, body: this.stream(view, start, end) };
  }
}
