// SqlDriver: the little a repository needs from a database, so one set of SQL statements serves SQLite and
// PostgreSQL. Statements use `?` placeholders; each driver adapts them and maps its errors to DbError.

export type SqlValue = string | number | null;

export interface SqlExecutor {
  /** Runs one statement and returns its rows (RETURNING rows for writes). */
  query<Row extends object>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** The CREATE statements of this dialect, run by `withInitLock`. */
  readonly schema: readonly string[];
  /**
   * Runs fn in one transaction that no other instance can run at the same time (SQLite: BEGIN IMMEDIATE,
   * PostgreSQL: an advisory lock), so several instances may create the schema and seed it concurrently.
   */
  withInitLock<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** `SELECT 1`, failing with DbError('unavailable') when the database does not answer within timeoutMs. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
