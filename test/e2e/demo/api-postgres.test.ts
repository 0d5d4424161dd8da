// The demo API on PostgreSQL (DATABASE_URL): the shared API suite, then the pool's behaviour under
// pressure: exhaustion answered 503 quickly, /healthz 503 when the database is gone, recovery after.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiSuite } from './helpers/api-suite.ts';
import { startApp, type AppProcess } from './helpers/app-process.ts';
import { call, login } from './helpers/http.ts';
import { createTestSchema, findPostgresUser, pgHost, pgPort, type TestSchema } from './helpers/postgres.ts';
import { TcpRelay } from './helpers/tcp-relay.ts';

const pgUser = await findPostgresUser();
/** PostgreSQL runs on every machine npm test runs on (.ci/run starts it): its absence fails the suites, never skips them. */
const noPostgres = `no PostgreSQL accepting user postgres or root at ${pgHost}:${pgPort}/test (.ci/run starts it)`;

apiSuite(
  'PostgreSQL',
  async () => {
    assert.ok(pgUser, noPostgres);
    const schema = await createTestSchema(pgUser);
    const dataDir = await mkdtemp(path.join(tmpdir(), 'demo-pg-'));
    return {
      dataDir,
      env: { DATABASE_URL: schema.url() },
      cleanup: async () => {
        await schema.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  },
);

describe('demo on PostgreSQL under pressure', { timeout: 60_000 }, () => {
  let schema: TestSchema;
  let dataDir: string;
  const apps: AppProcess[] = [];
  const relay = new TcpRelay({ host: pgHost, port: pgPort });

  before(async () => {
    assert.ok(pgUser, noPostgres);
    schema = await createTestSchema(pgUser);
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-pg-fail-'));
  });

  after(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await relay.release();
    await schema?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function start(instance: string, env: NodeJS.ProcessEnv): Promise<AppProcess> {
    const app = await startApp({ service: 'all', instance, dataDir, env: { DATABASE_URL: schema.url(), ...env } });
    apps.push(app);
    return app;
  }

  it('answers 503 within the acquire timeout when every pooled connection is busy', async () => {
    const app = await start('pool-1', { DB_POOL_MAX: '1', DB_ACQUIRE_TIMEOUT_MS: '300' });
    await schema.admin.query('BEGIN');
    let blocked: Promise<{ status: number }> | undefined;
    try {
      await schema.admin.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      // This read waits for the lock while holding the pool's only connection.
      blocked = call(app.url(), 'GET', '/api/orders');
      const application = 'switchyard-demo pool-1';
      const deadline = Date.now() + 10_000;
      for (;;) {
        const { rows } = await schema.admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [application]);
        if (rows.length > 0) break;
        assert.ok(Date.now() < deadline, 'the app never waited for the lock');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const exhausted = await call(app.url(), 'GET', '/api/users');
      assert.equal(exhausted.status, 503, JSON.stringify(exhausted.json));
      assert.equal(exhausted.json.code, 'unavailable');
      assert.equal(exhausted.headers.get('retry-after'), '1');
      assert.ok(exhausted.ms >= 250 && exhausted.ms < 2500, `took ${exhausted.ms}ms`);
    } finally {
      await schema.admin.query('COMMIT');
    }
    assert.equal((await blocked!).status, 200, 'the waiting request completes once the lock is gone');
    assert.equal((await call(app.url(), 'GET', '/api/users')).status, 200);
  });

  it('/healthz and the API answer 503 while the database is unreachable, and recover', async () => {
    await relay.start();
    const app = await start('relayed', { DATABASE_URL: schema.url(relay.port), DB_ACQUIRE_TIMEOUT_MS: '500', HEALTH_TIMEOUT_MS: '500' });
    const session = await login(app.url(), 'demo', 'demo');
    assert.equal((await call(app.url(), 'GET', '/healthz')).status, 200);

    await relay.cut();
    const health = await call(app.url(), 'GET', '/healthz');
    assert.equal(health.status, 503);
    assert.equal(health.json.code, 'unavailable');
    assert.ok(health.ms < 2500, `took ${health.ms}ms`);
    const write = await call(app.url(), 'POST', '/api/orders', { token: session.token, body: { item: 'ups', quantity: 1 } });
    assert.equal(write.status, 503);

    await relay.start();
    const healed = await call(app.url(), 'GET', '/healthz');
    assert.equal(healed.status, 200, JSON.stringify(healed.json));
    assert.equal((await call(app.url(), 'POST', '/api/orders', { token: session.token, body: { item: 'ups', quantity: 1 } })).status, 201);
  });

  it('answers 500 with a problem body when the schema is broken', async () => {
    const app = await start('broken', {});
    await schema.admin.query('DROP TABLE orders');
    const failed = await call(app.url(), 'GET', '/api/orders');
    assert.equal(failed.status, 500);
    assert.equal(failed.json.detail, 'internal error');
    const logged = await app.waitForLine((line) => line.msg === 'unhandled error');
    assert.match(JSON.stringify(logged), /does not exist/);
  });
});
