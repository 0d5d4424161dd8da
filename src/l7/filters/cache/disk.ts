// The optional disk tier under <data_dir>/cache, shared by every worker of the instance (and kept across
// restarts): one directory per URL (sha-1 of the URL) holding the URL itself, the Vary names per route
// (`<sha1(primary)>.vary`) and one file per variant (`<sha1(key)>`: a 4-byte meta length, the meta as
// JSON, the body). Files are written to a temporary name and renamed, so a reader never sees half a
// file; workers racing on one key each write a whole one. The size bound is kept by a sweep after writes
// (oldest modification first; a read hit touches its file), so it can be exceeded briefly between sweeps.
// Async fs only, and nothing at all until the first lookup or store.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fieldOf, type Entry } from './entry.ts';

/** What a variant file keeps besides the body; times are wall-clock (they outlive the process). */
interface Meta {
  key: string;
  primary: string;
  status: number;
  headers: string[];
  storedWall: number;
  initialAge: number;
  lifetime: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  mustRevalidate: boolean;
  noCache: boolean;
  authorizedOk: boolean;
}

const hash = (text: string): string => createHash('sha1').update(text).digest('hex');
const urlOf = (key: string): string => key.slice(0, key.indexOf('\0'));

export class DiskStore {
  readonly dir: string;
  private maxSize: number;
  private written = 0;
  private sweeping: Promise<void> | null = null;
  private sequence = 0;
  private readonly warn: (message: string, fields?: Record<string, unknown>) => void;
  private failing = false;
  /** Writes in flight: a purge waits for them, so it cannot be undone by a write that lands after it. */
  private readonly writes = new Set<Promise<void>>();
  private readonly removals = new Set<Promise<void>>();

  constructor(dir: string, maxSize: number, warn: (message: string, fields?: Record<string, unknown>) => void) {
    this.dir = dir;
    this.maxSize = maxSize;
    this.warn = warn;
  }

  /** Several routes may configure different bounds: the largest holds. */
  widen(maxSize: number): void {
    this.maxSize = Math.max(this.maxSize, maxSize);
  }

  private urlDir(url: string): string {
    return path.join(this.dir, hash(url));
  }

  async vary(primary: string): Promise<string[] | undefined> {
    try {
      return JSON.parse(await readFile(path.join(this.urlDir(urlOf(primary)), `${hash(primary)}.vary`), 'utf8')) as string[];
    } catch {
      return undefined;
    }
  }

  /** The stored variant as an entry, its clock moved onto `now` (env.now()); undefined when absent or unreadable. */
  async read(key: string, now: number): Promise<Entry | undefined> {
    const file = path.join(this.urlDir(urlOf(key)), hash(key));
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch {
      return undefined;
    }
    const metaLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
    if (metaLength < 0 || 4 + metaLength > bytes.length) return undefined;
    let meta: Meta;
    try {
      meta = JSON.parse(bytes.subarray(4, 4 + metaLength).toString('utf8')) as Meta;
    } catch {
      return undefined;
    }
    // a hash collision or a foreign file: not this key's
    if (meta.key !== key) return undefined;
    const touched = new Date();
    utimes(file, touched, touched).catch(() => undefined);
    const body = bytes.subarray(4 + metaLength);
    let size = body.length + 64 + key.length;
    for (const field of meta.headers) size += field.length;
    return {
      key,
      primary: meta.primary,
      status: meta.status,
      headers: meta.headers,
      body,
      storedAt: now - Math.max(0, Date.now() - meta.storedWall),
      initialAge: meta.initialAge,
      lifetime: meta.lifetime,
      staleWhileRevalidate: meta.staleWhileRevalidate,
      staleIfError: meta.staleIfError,
      mustRevalidate: meta.mustRevalidate,
      noCache: meta.noCache,
      authorizedOk: meta.authorizedOk,
      etag: fieldOf(meta.headers, 'etag'),
      lastModified: fieldOf(meta.headers, 'last-modified'),
      refreshWanted: false,
      size,
      hitAnswer: undefined,
    };
  }

  /** Writes `entry` (in the background; a failure is logged once per transition, never thrown). */
  write(entry: Entry, vary: readonly string[], now: number): void {
    const meta: Meta = {
      key: entry.key,
      primary: entry.primary,
      status: entry.status,
      headers: entry.headers,
      storedWall: Date.now() - Math.max(0, now - entry.storedAt),
      initialAge: entry.initialAge,
      lifetime: entry.lifetime,
      staleWhileRevalidate: entry.staleWhileRevalidate,
      staleIfError: entry.staleIfError,
      mustRevalidate: entry.mustRevalidate,
      noCache: entry.noCache,
      authorizedOk: entry.authorizedOk,
    };
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(json.length, 0);
    const url = urlOf(entry.key);
    const dir = this.urlDir(url);
    const file = path.join(dir, hash(entry.key));
    const temporary = `${file}.${process.pid}.${this.sequence++}.tmp`;
    this.written += 4 + json.length + entry.body.length;
    const done = (async () => {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'url'), url);
      await writeFile(path.join(dir, `${hash(entry.primary)}.vary`), JSON.stringify(vary));
      await writeFile(temporary, [length, json, entry.body]);
      await rename(temporary, file);
    })().then(
      () => {
        if (this.failing) this.warn('cache: disk store writable again', { dir: this.dir });
        this.failing = false;
        if (this.written > this.maxSize / 8) this.sweep();
      },
      (error: Error) => {
        unlink(temporary).catch(() => undefined);
        if (!this.failing) this.warn('cache: disk store write failed; entries stay in memory only', { dir: this.dir, error: error.message });
        this.failing = true;
      },
    );
    this.writes.add(done);
    done.finally(() => this.writes.delete(done));
  }

  /** Resolves when every write started so far has landed (or failed). */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  /** Removes every variant of `url`; the count of variant files removed (by this process). */
  async purgeUrl(url: string): Promise<number> {
    await this.flush();
    return this.removeDir(this.urlDir(url));
  }

  /** An invalidation in the background (an unsafe method succeeded); `settled` waits for it. */
  invalidate(url: string): void {
    const done = this.purgeUrl(url).then(
      () => undefined,
      () => undefined,
    );
    this.removals.add(done);
    done.finally(() => this.removals.delete(done));
  }

  /** Resolves when every write and background invalidation started so far is over. */
  async settled(): Promise<void> {
    while (this.writes.size + this.removals.size > 0) await Promise.allSettled([...this.writes, ...this.removals]);
  }

  /** Removes every URL that starts with `prefix`. */
  async purgePrefix(prefix: string): Promise<number> {
    await this.flush();
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const url = await readFile(path.join(this.dir, name, 'url'), 'utf8').catch(() => undefined);
      if (url !== undefined && url.startsWith(prefix)) removed += await this.removeDir(path.join(this.dir, name));
    }
    return removed;
  }

  private async removeDir(dir: string): Promise<number> {
    let removed = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name === 'url' || name.endsWith('.vary') || name.endsWith('.tmp')) continue;
      if (await unlink(path.join(dir, name)).then(() => true, () => false)) removed++;
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return removed;
  }

  /** Brings the store under its bound: oldest variant files first. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    this.written = 0;
    const files: { file: string; size: number; mtime: number }[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const dir = path.join(this.dir, name);
      for (const entry of await readdir(dir).catch(() => [] as string[])) {
        if (entry === 'url' || entry.endsWith('.vary')) continue;
        const info = await stat(path.join(dir, entry)).catch(() => undefined);
        // a write cut by a stop leaves its temporary file: gone after a minute
        if (entry.endsWith('.tmp')) {
          if (info !== undefined && Date.now() - info.mtimeMs > 60_000) await unlink(path.join(dir, entry)).catch(() => undefined);
          continue;
        }
        if (info !== undefined) files.push({ file: path.join(dir, entry), size: info.size, mtime: info.mtimeMs });
      }
    }
    let total = files.reduce((sum, file) => sum + file.size, 0);
    if (total <= this.maxSize) return;
    files.sort((a, b) => a.mtime - b.mtime);
    for (const file of files) {
      if (total <= this.maxSize * 0.9) break;
      await unlink(file.file).catch(() => undefined);
      total -= file.size;
    }
  }
}
