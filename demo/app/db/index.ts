// Chooses the database: PostgreSQL when a URL is given (DATABASE_URL), otherwise the embedded SQLite file.
import type { Logger } from 'pino';
import { PostgresDriver } from './postgres-driver.ts';
import { SqliteDriver } from './sqlite-driver.ts';
import { SqlRepository } from './sql-repository.ts';
import type { Repository } from './repository.ts';

export * from './repository.ts';

export interface DatabaseOptions {
  /** postgres://… selects PostgreSQL; absent selects SQLite. */
  url: string | undefined;
  sqliteFile: string;
  busyTimeoutMs: number;
  poolMax: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName: string;
}

export interface OpenedRepository {
  repository: Repository;
  /** "sqlite /path/demo.sqlite" or "postgres host:port/db", for logs and /healthz (no credentials). */
  description: string;
}

function describeUrl(url: string): string {
  const parsed = new URL(url);
  return `postgres ${parsed.host}${parsed.pathname}`;
}

/** Opens the connection or pool; the schema is created separately by `repository.init`. */
export async function openRepository(options: DatabaseOptions, log: Logger): Promise<OpenedRepository> {
  if (options.url) {
    const driver = new PostgresDriver(
      {
        url: options.url,
        max: options.poolMax,
        acquireTimeoutMs: options.acquireTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
        statementTimeoutMs: options.statementTimeoutMs,
        applicationName: options.applicationName,
      },
      log,
    );
    await driver.open();
    return { repository: new SqlRepository(driver), description: describeUrl(options.url) };
  }
  const driver = new SqliteDriver({ file: options.sqliteFile, busyTimeoutMs: options.busyTimeoutMs });
  await driver.open();
  return { repository: new SqlRepository(driver), description: `sqlite ${options.sqliteFile}` };
}
