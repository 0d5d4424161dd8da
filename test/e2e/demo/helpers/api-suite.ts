// The API conformance suite: the same tests run against every database the demo supports (SQLite,
// PostgreSQL). Each run starts one users and one orders instance as real processes sharing a fresh
// database, so tokens issued by one service are verified by the other, as behind the edge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type AppProcess } from './app-process.ts';
import { call, login } from './http.ts';

export interface ApiBackend {
  /** Environment for the app processes (DATABASE_URL, …) and a data directory for the JWT secret. */
  env: NodeJS.ProcessEnv;
  dataDir: string;
  cleanup(): Promise<void>;
}

const corsOrigin = 'https://example.test:8443';

function assertProblem(result: { status: number; headers: Headers; json: any }, status: number): void {
  assert.equal(result.status, status, JSON.stringify(result.json));
  assert.equal(result.headers.get('content-type'), 'application/problem+json');
  assert.equal(result.json.status, status);
  assert.equal(result.json.type, 'about:blank');
  assert.equal(typeof result.json.title, 'string');
  assert.equal(typeof result.json.detail, 'string');
}

export function apiSuite(label: string, setup: () => Promise<ApiBackend>): void {
  describe(`demo API on ${label}`, { timeout: 60_000 }, () => {
    let backend: ApiBackend | undefined;
    const apps: AppProcess[] = [];
    let users: string;
    let orders: string;
    let demo: { token: string; cookie: string; userId: number };
    let alice: { token: string; cookie: string; userId: number };

    before(async () => {
      backend = await setup();
      const common = { dataDir: backend.dataDir, env: backend.env, args: ['--cors-origins', `${corsOrigin},http://localhost:*`] };
      // Started one after the other: the first creates the schema, the second finds it (both paths run).
      apps.push(await startApp({ ...common, service: 'users', instance: 'users-t1' }));
      apps.push(await startApp({ ...common, service: 'orders', instance: 'orders-t1' }));
      users = apps[0].url();
      orders = apps[1].url();
      demo = await login(users, 'demo', 'demo');
      alice = await login(users, 'alice', 'alice');
    });

    after(async () => {
      await Promise.all(apps.map((app) => app.stop()));
      await backend?.cleanup();
    });

    it('lists and reads the seed users publicly, with X-Instance, X-Client-Address and Server-Timing', async () => {
      const list = await call(users, 'GET', '/api/users');
      assert.equal(list.status, 200);
      assert.equal(list.headers.get('content-type'), 'application/json');
      assert.equal(list.headers.get('x-instance'), 'users-t1');
      assert.equal(list.headers.get('x-client-address'), '127.0.0.1');
      assert.match(list.headers.get('server-timing') ?? '', /^db;dur=\d+(\.\d+)?, app;dur=\d+(\.\d+)?$/);
      assert.deepEqual(list.json.items.map((user: any) => user.username).slice(0, 2), ['demo', 'alice']);
      assert.ok(list.json.items.every((user: any) => !('password_hash' in user)));

      const one = await call(users, 'GET', `/api/users/${demo.userId}`);
      assert.equal(one.status, 200);
      assert.equal(one.json.username, 'demo');
      assert.match(one.json.created_at, /^\d{4}-\d\d-\d\dT/);

      assertProblem(await call(users, 'GET', '/api/users/999999'), 404);
      assertProblem(await call(users, 'GET', '/api/users/abc'), 404);
      assertProblem(await call(users, 'GET', '/api/users?limit=0'), 400);
      const paged = await call(users, 'GET', '/api/users?limit=1&offset=1');
      assert.deepEqual(paged.json.items.map((user: any) => user.username), ['alice']);
    });

    it('login: 200 with a token and a HttpOnly, Secure, SameSite=Lax cookie; 401, 400, 415 otherwise', async () => {
      const ok = await call(users, 'POST', '/api/login', { body: { username: 'demo', password: 'demo' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.token_type, 'Bearer');
      assert.equal(ok.json.user.username, 'demo');
      const cookie = ok.headers.getSetCookie()[0];
      assert.match(cookie, /^sy_session=[\w-]+\.[\w-]+\.[\w-]+;/);
      for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) assert.ok(cookie.includes(attribute), cookie);

      assertProblem(await call(users, 'POST', '/api/login', { body: { username: 'demo', password: 'wrong' } }), 401);
      assertProblem(await call(users, 'POST', '/api/login', { body: { username: 'nobody', password: 'demo' } }), 401);
      assertProblem(await call(users, 'POST', '/api/login', { body: { username: 'demo' } }), 400);
      assertProblem(await call(users, 'POST', '/api/login', { rawBody: '{"username":', headers: { 'content-type': 'application/json' } }), 400);
      assertProblem(await call(users, 'POST', '/api/login', { rawBody: 'username=demo', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
    });

    it('session: the cookie alone identifies the user; logout clears it', async () => {
      const session = await call(users, 'GET', '/api/session', { cookie: demo.cookie });
      assert.equal(session.status, 200);
      assert.equal(session.json.user.username, 'demo');
      assertProblem(await call(users, 'GET', '/api/session'), 401);
      const logout = await call(users, 'POST', '/api/logout', { cookie: demo.cookie });
      assert.equal(logout.status, 204);
      assert.match(logout.headers.getSetCookie()[0], /^sy_session=; .*Max-Age=0/);
    });

    it('users: writes need a token; 201 + Location, 400, 409, 403, 404, 204', async () => {
      const tag = label.toLowerCase();
      const body = { username: `carol-${tag}`, name: 'Carol', email: `carol-${tag}@example.test`, password: 'correct horse' };
      const anonymous = await call(users, 'POST', '/api/users', { body });
      assertProblem(anonymous, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
      const forged = await call(users, 'POST', '/api/users', { body, token: `${demo.token.slice(0, -4)}AAAA` });
      assertProblem(forged, 401);
      assert.match(forged.headers.get('www-authenticate') ?? '', /invalid_token/);

      const invalid = await call(users, 'POST', '/api/users', { token: demo.token, body: { ...body, email: 'not-an-email', extra: 1 } });
      assertProblem(invalid, 400);
      assert.equal(invalid.json.code, 'validation');
      assert.ok(invalid.json.errors.some((error: any) => error.path === 'email'), JSON.stringify(invalid.json.errors));

      const created = await call(users, 'POST', '/api/users', { token: demo.token, body });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.equal(created.headers.get('location'), `/api/users/${created.json.id}`);
      const fetched = await call(users, 'GET', created.headers.get('location')!);
      assert.deepEqual(fetched.json, created.json);

      const duplicate = await call(users, 'POST', '/api/users', { token: demo.token, body: { ...body, email: 'other@example.test' } });
      assertProblem(duplicate, 409);
      assert.equal(duplicate.json.field, 'username');

      const carol = await login(users, body.username, body.password);
      const renamed = await call(users, 'PUT', `/api/users/${carol.userId}`, { token: carol.token, body: { username: body.username, name: 'Carol R.', email: body.email } });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.json.name, 'Carol R.');
      const taken = await call(users, 'PUT', `/api/users/${carol.userId}`, { token: carol.token, body: { username: body.username, name: 'C', email: 'demo@example.test' } });
      assertProblem(taken, 409);
      assert.equal(taken.json.field, 'email');
      assertProblem(await call(users, 'PUT', `/api/users/${demo.userId}`, { token: carol.token, body: { username: 'demo', name: 'x', email: 'x@example.test' } }), 403);
      assertProblem(await call(users, 'PUT', '/api/users/999999', { token: carol.token, body: { username: 'zed', name: 'x', email: 'x@example.test' } }), 404);
      assertProblem(await call(users, 'DELETE', `/api/users/${demo.userId}`, { token: carol.token }), 403);

      // Carol's orders go with her (cascade).
      const order = await call(orders, 'POST', '/api/orders', { token: carol.token, body: { item: 'lamp', quantity: 1 } });
      assert.equal(order.status, 201);
      const deleted = await call(users, 'DELETE', `/api/users/${carol.userId}`, { token: carol.token });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.json, undefined);
      assertProblem(await call(users, 'GET', `/api/users/${carol.userId}`), 404);
      assertProblem(await call(orders, 'GET', `/api/orders/${order.json.id}`), 404);
      // Her still-valid token now names nobody: creating an order is a conflict, not a crash.
      assertProblem(await call(orders, 'POST', '/api/orders', { token: carol.token, body: { item: 'lamp', quantity: 1 } }), 409);
    });

    it('orders: a token from the users service works on the orders service; only the owner may change an order', async () => {
      const created = await call(orders, 'POST', '/api/orders', { cookie: demo.cookie, body: { item: 'router', quantity: 3 } });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      assert.equal(created.headers.get('x-instance'), 'orders-t1');
      assert.equal(created.json.user_id, demo.userId);
      assert.equal(created.json.status, 'pending');
      const location = created.headers.get('location')!;
      assert.equal(location, `/api/orders/${created.json.id}`);

      const list = await call(orders, 'GET', `/api/orders?user_id=${demo.userId}`);
      assert.equal(list.status, 200);
      assert.ok(list.json.items.some((order: any) => order.id === created.json.id));
      assert.ok(list.json.items.every((order: any) => order.user_id === demo.userId));

      const replacement = { item: 'router', quantity: 4, status: 'paid' };
      assertProblem(await call(orders, 'PUT', location, { body: replacement }), 401);
      assertProblem(await call(orders, 'PUT', location, { token: alice.token, body: replacement }), 403);
      assertProblem(await call(orders, 'DELETE', location, { token: alice.token }), 403);
      assertProblem(await call(orders, 'PUT', location, { token: demo.token, body: { ...replacement, status: 'lost' } }), 400);
      assertProblem(await call(orders, 'POST', '/api/orders', { token: demo.token, body: { item: 'x', quantity: 0 } }), 400);
      const updated = await call(orders, 'PUT', location, { token: demo.token, body: replacement });
      assert.equal(updated.status, 200);
      assert.deepEqual({ quantity: updated.json.quantity, status: updated.json.status }, { quantity: 4, status: 'paid' });

      assert.equal((await call(orders, 'DELETE', location, { token: demo.token })).status, 204);
      assertProblem(await call(orders, 'GET', location), 404);
      assertProblem(await call(orders, 'DELETE', location, { token: demo.token }), 404);
    });

    it('limits the body size (413), refuses unknown methods (405) and paths (404)', async () => {
      const huge = await call(users, 'POST', '/api/users', { token: demo.token, rawBody: JSON.stringify({ name: 'x'.repeat(70_000) }), headers: { 'content-type': 'application/json' } });
      assertProblem(huge, 413);
      const patch = await call(users, 'PATCH', '/api/users/1', { token: demo.token, body: {} });
      assertProblem(patch, 405);
      assert.match(patch.headers.get('allow') ?? '', /GET/);
      // Each service serves only its own resources.
      assertProblem(await call(users, 'GET', '/api/orders'), 404);
      assertProblem(await call(orders, 'GET', '/api/users'), 404);
      assertProblem(await call(orders, 'POST', '/api/login', { body: { username: 'demo', password: 'demo' } }), 404);
    });

    it('answers CORS preflights for the page origin only, exposing the diagnostic headers', async () => {
      const preflight = await call(orders, 'OPTIONS', '/api/orders', { headers: { origin: corsOrigin, 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), corsOrigin);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization/);
      const actual = await call(orders, 'GET', '/api/orders', { headers: { origin: corsOrigin } });
      assert.match(actual.headers.get('access-control-expose-headers') ?? '', /X-Instance.*X-Client-Address.*Server-Timing/);
      const anyPort = await call(users, 'GET', '/api/users', { headers: { origin: 'http://localhost:4321' } });
      assert.equal(anyPort.headers.get('access-control-allow-origin'), 'http://localhost:4321');
      const foreign = await call(orders, 'OPTIONS', '/api/orders', { headers: { origin: 'https://evil.test', 'access-control-request-method': 'POST' } });
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    });

    it('/healthz answers 200 while the database answers', async () => {
      for (const base of [users, orders]) {
        const health = await call(base, 'GET', '/healthz');
        assert.equal(health.status, 200);
        assert.equal(health.json.status, 'ok');
        assert.match(health.headers.get('server-timing') ?? '', /db;dur=/);
      }
    });
  });
}
