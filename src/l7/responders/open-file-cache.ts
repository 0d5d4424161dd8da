// Open-file cache for static routes (in the spirit of nginx's open_file_cache): what a path resolved to
// (its real location, a directory, a file's size, times and inode), small files' bytes in memory and large
// files' descriptors kept open, so a request for a known file does no file-system call at all.
//
// Staleness is bounded two ways: every entry is checked again (realpath + stat, compared by inode, size,
// mtime and ctime) once it is older than `validMs`, and an fs.watch on each cached file's directory marks
// the entries of a changed directory for a check before their next use (inotify: usually well within a
// millisecond; the time check covers watches that cannot be set up, symlinked files and event loss).
// A changed file gets a new entry; a deleted one is dropped; an entry's descriptor closes when the last
// response streaming from it ends.
import { close as closeCb, constants, fstat as fstatCb, open as openCb, read as readCb, watch, type FSWatcher, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { nodeUtil } from '../../core/index.ts';

// Numeric descriptors, not FileHandles: a kept descriptor is shared by streams and closed by hand (a
// FileHandle would close it when collected).
const open = nodeUtil.promisify(openCb);
const fstat = nodeUtil.promisify(fstatCb);
const close = nodeUtil.promisify(closeCb);
const read = (fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => readCb(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));

export interface OpenFileCacheOptions {
  /** Most entries kept (files and directories), least recently used dropped first. */
  maxEntries: number;
  /** Most bytes of file contents held in memory over all entries. */
  maxMemory: number;
  /** Files up to this size are read into memory once; larger ones are streamed from a kept descriptor. */
  smallFileMax: number;
  /** An entry older than this (ms) is checked against the file system before it is used again. */
  validMs: number;
  /** Watch cached files' directories so a change is noticed before `validMs` runs out. */
  watch: boolean;
  /** Monotonic milliseconds (tests pass their own). */
  now: () => number;
}

export const defaultOpenFileCacheOptions: OpenFileCacheOptions = {
  maxEntries: 1000,
  maxMemory: 32 * 1024 * 1024,
  smallFileMax: 256 * 1024,
  validMs: 1000,
  watch: true,
  now: () => performance.now(),
};

/** One resolved path: a directory, or a file with its metadata and either its bytes or an open descriptor. */
export interface OpenFile {
  /** The path as asked (root joined with the request path), before symlinks are resolved. */
  readonly key: string;
  readonly real: string;
  readonly directory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  /** The whole file (small files), or null. */
  readonly body: Buffer | null;
  /** The kept descriptor (large files), or -1. */
  fd: number;
  /** Responses streaming from `fd` right now: it closes when this falls to 0 after the entry was dropped. */
  users: number;
  /** No longer in the cache (changed, deleted, evicted): never handed out again. */
  dropped: boolean;
  /** now() of the last check against the file system. */
  checkedAt: number;
  /** A watch event touched its directory: check before the next use. */
  suspect: boolean;
  /** Bytes it holds in memory (body), for the budget. */
  readonly memory: number;
  /** Per-entry memo for the responder (prebuilt response heads); dropped with the entry. */
  memo: unknown;
}

type Check = Promise<OpenFile | undefined>;

const sameFile = (file: OpenFile, real: string, stats: Stats): boolean =>
  file.real === real && file.directory === stats.isDirectory() && file.ino === stats.ino && file.size === stats.size && file.mtimeMs === stats.mtimeMs && file.ctimeMs === stats.ctimeMs;

export class OpenFileCache {
  private readonly options: OpenFileCacheOptions;
  /** Confines resolved paths: false for a real path outside the served root (treated as absent). */
  private readonly inside: (real: string) => boolean;
  /** Insertion order is recency order (a use moves an entry to the end). */
  private readonly entries = new Map<string, OpenFile>();
  /** Loads and checks under way, so concurrent requests for one path share one. */
  private readonly checks = new Map<string, Check>();
  /** Directory → its watcher and the keys cached in it. */
  private readonly watchers = new Map<string, { watcher: FSWatcher; keys: Set<string> }>();
  private memory = 0;
  private closed = false;
  /** Bumped on every watch event and drop: a responder's memo of an earlier resolution is then re-checked. */
  generation = 0;

  constructor(options: OpenFileCacheOptions, inside: (real: string) => boolean) {
    this.options = options;
    this.inside = inside;
  }

  get validMs(): number {
    return this.options.validMs;
  }

  now(): number {
    return this.options.now();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether a held entry may be used without a file-system check. */
  fresh(file: OpenFile, now: number): boolean {
    return !file.dropped && !file.suspect && now - file.checkedAt < this.options.validMs;
  }

  /** The entry for `key` (checked now if it is due), or undefined when absent, unreadable or outside the root. */
  lookup(key: string): Check | OpenFile | undefined {
    const file = this.entries.get(key);
    const now = this.options.now();
    if (file !== undefined && this.fresh(file, now)) {
      // most recently used last
      this.entries.delete(key);
      this.entries.set(key, file);
      return file;
    }
    let check = this.checks.get(key);
    if (check === undefined) {
      check = this.check(key, file).finally(() => this.checks.delete(key));
      this.checks.set(key, check);
    }
    return check;
  }

  /** A response streams from `file.fd`: keeps it open until release(). */
  acquire(file: OpenFile): void {
    file.users++;
  }

  release(file: OpenFile): void {
    file.users--;
    if (file.users === 0 && file.dropped) this.closeFd(file);
  }

  /** After a response was set up from `file`: a dropped entry nobody streams from closes its descriptor now. */
  settle(file: OpenFile): void {
    if (file.dropped && file.users === 0) this.closeFd(file);
  }

  /** Drops everything (a reload replaced the route, the listener stopped); streams in flight finish. */
  close(): void {
    this.closed = true;
    for (const file of [...this.entries.values()]) this.drop(file);
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private async check(key: string, held: OpenFile | undefined): Check {
    let real: string;
    let stats: Stats;
    try {
      real = await realpath(key);
      if (!this.inside(real)) throw new Error('outside the root');
      stats = await stat(real);
    } catch {
      if (held !== undefined) this.drop(held);
      return undefined;
    }
    if (held !== undefined && !held.dropped) {
      if (sameFile(held, real, stats)) {
        held.checkedAt = this.options.now();
        held.suspect = false;
        return held;
      }
      this.drop(held);
    }
    if (!stats.isFile() && !stats.isDirectory()) return undefined;
    const file = stats.isDirectory() ? this.entry(key, real, stats, null, -1) : await this.load(key, real);
    if (file === undefined) return undefined;
    if (this.closed) {
      // loaded for a request that outlived a reload: used once, kept by nobody (a stream opens the path itself)
      file.dropped = true;
      this.closeFd(file);
      return file;
    }
    this.insert(file);
    return file;
  }

  /** Opens a regular file; its metadata comes from the descriptor, so bytes and validators agree. */
  private async load(key: string, real: string): Promise<OpenFile | undefined> {
    let fd = -1;
    try {
      fd = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
      const stats = await fstat(fd);
      if (!stats.isFile()) throw new Error('not a file');
      if (stats.size > this.options.smallFileMax || stats.size > this.options.maxMemory / 4) return this.entry(key, real, stats, null, fd);
      const body = Buffer.allocUnsafeSlow(stats.size);
      let filled = 0;
      while (filled < body.length) {
        const bytesRead = await read(fd, body, filled, body.length - filled, filled);
        if (bytesRead === 0) throw new Error('file shrank while read');
        filled += bytesRead;
      }
      await close(fd);
      fd = -1;
      return this.entry(key, real, stats, body, -1);
    } catch {
      if (fd >= 0) await close(fd).catch(() => undefined);
      return undefined;
    }
  }

  private entry(key: string, real: string, stats: Stats, body: Buffer | null, fd: number): OpenFile {
    return {
      key,
      real,
      directory: stats.isDirectory(),
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      ctimeMs: stats.ctimeMs,
      ino: stats.ino,
      body,
      fd,
      users: 0,
      dropped: false,
      checkedAt: this.options.now(),
      suspect: false,
      memory: body === null ? 0 : body.length,
      memo: undefined,
    };
  }

  private insert(file: OpenFile): void {
    const old = this.entries.get(file.key);
    if (old !== undefined) this.drop(old);
    this.entries.set(file.key, file);
    this.memory += file.memory;
    // a directory entry only says "directory": what changes inside it is watched where its files are
    if (!file.directory) this.watchDir(file.key);
    for (const oldest of this.entries.values()) {
      if (this.entries.size <= this.options.maxEntries && this.memory <= this.options.maxMemory) break;
      this.drop(oldest);
    }
  }

  private drop(file: OpenFile): void {
    if (file.dropped) return;
    file.dropped = true;
    file.memo = undefined;
    this.generation++;
    if (this.entries.get(file.key) === file) {
      this.entries.delete(file.key);
      this.memory -= file.memory;
      if (!file.directory) this.unwatch(file.key);
    }
    if (file.users === 0) this.closeFd(file);
  }

  private closeFd(file: OpenFile): void {
    if (file.fd < 0) return;
    const fd = file.fd;
    file.fd = -1;
    close(fd).catch(() => undefined);
  }

  private watchDir(key: string): void {
    if (!this.options.watch) return;
    const dir = path.dirname(key);
    const known = this.watchers.get(dir);
    if (known !== undefined) {
      known.keys.add(key);
      return;
    }
    let watcher: FSWatcher;
    try {
      // not persistent: a watch alone does not keep the worker alive
      watcher = watch(dir, { persistent: false }, (_event, name) => this.touched(dir, name));
    } catch {
      // no inotify watch left (or the directory went away): the time check alone bounds staleness
      return;
    }
    watcher.on('error', () => {
      watcher.close();
      if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
    });
    this.watchers.set(dir, { watcher, keys: new Set([key]) });
  }

  private unwatch(key: string): void {
    const dir = path.dirname(key);
    const known = this.watchers.get(dir);
    if (known === undefined) return;
    known.keys.delete(key);
    if (known.keys.size > 0) return;
    known.watcher.close();
    this.watchers.delete(dir);
  }

  /** Something in `dir` changed (`name`: which entry, when the kernel says): check those entries before use. */
  private touched(dir: string, name: string | Buffer | null): void {
    const known = this.watchers.get(dir);
    this.generation++;
    if (known === undefined) return;
    const only = typeof name === 'string' ? path.join(dir, name) : undefined;
    for (const key of known.keys) {
      if (only !== undefined && key !== only) continue;
      const file = this.entries.get(key);
      if (file !== undefined) file.suspect = true;
    }
  }
}
