// PostgreSQL for the demo tests: the server at 127.0.0.1:5432, database `test` (trust auth, user postgres
// or root). Each test gets its own schema, selected through the URL's `options=-c search_path=…`, and
// drops it afterwards, so parallel runs never see each other's rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const pgHost = '127.0.0.1';
export const pgPort = 5432;
export const pgDatabase = 'test';

/** The first user the server accepts, or undefined when no PostgreSQL answers (the tests then skip). */
export async function findPostgresUser(): Promise<string | undefined> {
  for (const user of ['postgres', 'root']) {
    const client = new pg.Client({ host: pgHost, port: pgPort, database: pgDatabase, user, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      return user;
    } catch {
      // try the next user
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return undefined;
}

export interface TestSchema {
  name: string;
  /** DATABASE_URL for the app, pointing at host:port (a proxy in front of the server, or the server). */
  url(port?: number): string;
  /** An admin connection with search_path set to the schema. */
  admin: pg.Client;
  drop(): Promise<void>;
}

export async function createTestSchema(user: string): Promise<TestSchema> {
  const name = `demo_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ host: pgHost, port: pgPort, database: pgDatabase, user, options: `-c search_path=${name}` });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${name}`);
  return {
    name,
    admin,
    url: (port = pgPort) => `postgres://${user}@${pgHost}:${port}/${pgDatabase}?options=${encodeURIComponent(`-c search_path=${name}`)}`,
    async drop() {
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
