// The demo API on its default database, SQLite in the data directory: the shared API suite, then what
// SQLite does when things go wrong (file gone, lock held by another process, table dropped).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { apiSuite } from './helpers/api-suite.ts';
import { startApp, type AppProcess } from './helpers/app-process.ts';
import { call, login } from './helpers/http.ts';

// An inherited DATABASE_URL would silently move the test to PostgreSQL.
const sqliteEnv = { DATABASE_URL: '' };

apiSuite('SQLite', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'demo-sqlite-'));
  return { dataDir, env: sqliteEnv, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
});

describe('demo on SQLite when the database fails', { timeout: 60_000 }, () => {
  let dataDir: string;
  const apps: AppProcess[] = [];

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-sqlite-fail-'));
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(name: string, env: NodeJS.ProcessEnv = {}): Promise<AppProcess> {
    const dir = path.join(dataDir, name);
    const app = await startApp({ service: 'all', instance: name, dataDir: dir, env: { ...sqliteEnv, ...env } });
    apps.push(app);
    return app;
  }

  it('several instances starting at once on a new file create the schema and the seed rows once', async () => {
    const dir = path.join(dataDir, 'shared');
    const started = await Promise.all(
      ['a', 'b', 'c'].map((name) => startApp({ service: 'all', instance: `shared-${name}`, dataDir: dir, env: sqliteEnv })),
    );
    apps.push(...started);
    const list = await call(started[2].url(), 'GET', '/api/users');
    assert.deepEqual(list.json.items.map((user: any) => user.username), ['demo', 'alice']);
    // One secret for all: a token from one instance is accepted by another.
    const session = await login(started[0].url(), 'demo', 'demo');
    const created = await call(started[1].url(), 'POST', '/api/orders', { token: session.token, body: { item: 'fan', quantity: 1 } });
    assert.equal(created.status, 201);
  });

  it('answers 503 quickly, with Retry-After, while another process holds the write lock', async () => {
    const app = await start('locked', { SQLITE_BUSY_TIMEOUT_MS: '200' });
    const session = await login(app.url(), 'demo', 'demo');
    const holder = new DatabaseSync(path.join(dataDir, 'locked', 'demo.sqlite'), { timeout: 1000 });
    try {
      holder.exec('BEGIN IMMEDIATE');
      const busy = await call(app.url(), 'POST', '/api/orders', { token: session.token, body: { item: 'desk', quantity: 1 } });
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.equal(busy.json.code, 'unavailable');
      assert.ok(busy.ms < 2500, `took ${busy.ms}ms`);
      // Readers are not blocked by a writer in WAL mode.
      assert.equal((await call(app.url(), 'GET', '/api/orders')).status, 200);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const after = await call(app.url(), 'POST', '/api/orders', { token: session.token, body: { item: 'desk', quantity: 1 } });
    assert.equal(after.status, 201);
  });

  it('answers 500 with a problem body that hides the cause when the schema is broken', async () => {
    const app = await start('broken');
    const db = new DatabaseSync(path.join(dataDir, 'broken', 'demo.sqlite'), { timeout: 1000 });
    db.exec('DROP TABLE orders');
    db.close();
    const failed = await call(app.url(), 'GET', '/api/orders');
    assert.equal(failed.status, 500);
    assert.equal(failed.headers.get('content-type'), 'application/problem+json');
    assert.equal(failed.json.detail, 'internal error');
    assert.match(failed.headers.get('server-timing') ?? '', /db;dur=/);
    const logged = await app.waitForLine((line) => line.msg === 'unhandled error');
    assert.match(JSON.stringify(logged), /no such table/);
  });

  it('/healthz answers 503 once the database file is gone', async () => {
    const app = await start('vanishing');
    assert.equal((await call(app.url(), 'GET', '/healthz')).status, 200);
    const file = path.join(dataDir, 'vanishing', 'demo.sqlite');
    await Promise.all([file, `${file}-wal`, `${file}-shm`].map((name) => unlink(name).catch(() => undefined)));
    const health = await call(app.url(), 'GET', '/healthz');
    assert.equal(health.status, 503);
    assert.equal(health.json.code, 'unavailable');
    assert.match(health.json.detail, /is gone/);
  });
});
