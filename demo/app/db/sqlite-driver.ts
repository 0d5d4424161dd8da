// SQLite through node:sqlite: one file under the data directory, shared by every instance on the machine.
// WAL lets readers run beside one writer across processes; the busy timeout makes a writer wait for another
// process's write instead of failing at once. DatabaseSync is synchronous, so a write that waits for the
// lock holds this instance's event loop for up to busyTimeoutMs: keep it short (the default is 1s), and a
// lock still held after it is answered with 503 like an exhausted pool.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { stat } from 'node:fs/promises';
import { DbError } from './repository.ts';
import type { SqlDriver, SqlExecutor, SqlValue } from './driver.ts';

export interface SqliteOptions {
  file: string;
  busyTimeoutMs: number;
}

const schema = [
  `CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    status TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS orders_user_id ON orders (user_id)',
];

// Primary result codes (the low byte of the extended code), https://sqlite.org/rescode.html
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_UNIQUE = 2067;
const unavailableCodes = new Set([SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB]);

function mapError(err: unknown): unknown {
  const { code, errcode, message } = err as { code?: string; errcode?: number; message?: string };
  if (code === 'ERR_INVALID_STATE') return new DbError('unavailable', 'sqlite: database is closed', { cause: err });
  if (code !== 'ERR_SQLITE_ERROR' || typeof errcode !== 'number') return err;
  if (errcode === SQLITE_CONSTRAINT_UNIQUE) {
    // "UNIQUE constraint failed: users.email"
    const field = /constraint failed: \w+\.(\w+)/.exec(message ?? '')?.[1];
    return new DbError('conflict', `sqlite: ${message}`, { field, cause: err });
  }
  if (errcode === SQLITE_CONSTRAINT_FOREIGNKEY) return new DbError('missing_reference', `sqlite: ${message}`, { cause: err });
  if (unavailableCodes.has(errcode & 0xff)) return new DbError('unavailable', `sqlite: ${message}`, { cause: err });
  return err;
}

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite';
  readonly schema = schema;
  readonly #options: SqliteOptions;
  #db: DatabaseSync | undefined;
  #inode: number | undefined;
  readonly #statements = new Map<string, StatementSync>();

  constructor(options: SqliteOptions) {
    this.#options = options;
  }

  /** Opens (creating when missing) the database file. Start-up only: the open is synchronous. */
  async open(): Promise<void> {
    const db = new DatabaseSync(this.#options.file, { timeout: this.#options.busyTimeoutMs, enableForeignKeyConstraints: true });
    this.#db = db;
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
    } catch (err) {
      throw mapError(err);
    }
    this.#inode = (await stat(this.#options.file)).ino;
  }

  async query<Row extends object>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    try {
      return this.#statement(sql).all(...params) as Row[];
    } catch (err) {
      throw mapError(err);
    }
  }

  async withInitLock<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    await this.query('BEGIN IMMEDIATE');
    try {
      const result = await fn(this);
      await this.query('COMMIT');
      return result;
    } catch (err) {
      await this.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * `SELECT 1` on the open connection, and a check that the file is still the one opened: an open
   * connection keeps answering from a deleted file, which would lose every write from then on.
   */
  async ping(_timeoutMs: number): Promise<void> {
    await this.query('SELECT 1');
    const current = await stat(this.#options.file).catch(() => undefined);
    if (current?.ino !== this.#inode) throw new DbError('unavailable', `sqlite: database file ${this.#options.file} is gone`);
  }

  async close(): Promise<void> {
    this.#statements.clear();
    if (this.#db?.isOpen) this.#db.close();
    this.#db = undefined;
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (!this.#db) throw new DbError('unavailable', 'sqlite: database is not open');
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
