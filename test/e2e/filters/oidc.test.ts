// `oidc` end to end against a real OpenID provider (the oidc-provider package on a loopback port, its
// development login and consent pages): a browser (Chromium through playwright-core) logs in through the
// edge, the recording origins see the user's claims as headers and never the session cookie; API calls
// without a session get 401; the session refreshes with the refresh token (the provider's access tokens
// live 10 s); logout clears the cookie and ends the provider session; a tampered cookie, a state mismatch
// and a replayed callback are refused with nothing upstream; a public client (PKCE alone) logs in on a
// second edge. The callback and the 401 run for HTTP/1.1 and HTTP/2 (h2c) clients, and claims reach
// HTTP/1.1 and h2c pools.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { builtinFilterHost, type FilterHost } from '../../../src/l7/index.ts';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP edge.test ~NOTFOUND'];

interface Reply {
  status: number;
  /** [lower-case name, value] in order (several Set-Cookie fields stay apart). */
  fields: [string, string][];
  body: string;
}
const field = (reply: Reply, name: string) => reply.fields.find(([key]) => key === name)?.[1];
const setCookies = (reply: Reply) => reply.fields.filter(([key]) => key === 'set-cookie').map(([, value]) => value);
/** name=value of a Set-Cookie for `name` (undefined when none). */
const cookieOf = (reply: Reply, name: string) => setCookies(reply).find((value) => value.startsWith(`${name}=`))?.split(';')[0];

function curl(flags: string[], url: string, headers: string[] = []): Promise<Reply> {
  const args = ['-sS', '--max-time', '10', '-D', '-', ...flags, ...headers.flatMap((value) => ['-H', value]), url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.slice(0, split).split('\r\n');
      const fields = lines.slice(1).map((line): [string, string] => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]);
      resolve({ status: Number(lines[0].split(' ')[1]), fields, body: stdout.slice(split + 4) });
    });
  });
}

const clients = [
  { name: 'HTTP/1.1', flags: ['--http1.1'] },
  { name: 'HTTP/2', flags: ['--http2-prior-knowledge'] },
];

describe('oidc login at the edge against a real provider', { timeout: 120_000 }, () => {
  let dir: string;
  /** What the origins saw: path, user headers, cookie and authorization. */
  const seen: { origin: string; path: string; user?: string; email?: string; cookie?: string; authorization?: string }[] = [];
  const record = (origin: string, url: string, headers: http.IncomingHttpHeaders) => {
    const one = (name: string) => (headers[name] === undefined ? undefined : String(headers[name]));
    seen.push({ origin, path: url, user: one('x-user-id'), email: one('x-user-email'), cookie: one('cookie'), authorization: one('authorization') });
  };
  const h1Origin = http.createServer((req, res) => {
    record('h1', req.url ?? '', req.headers);
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${String(req.headers['x-user-id'])} at ${req.url}`);
  });
  const h2Origin = http2.createServer();
  h2Origin.on('stream', (stream, headers) => {
    record('h2', String(headers[':path']), headers as http.IncomingHttpHeaders);
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`hello ${String(headers['x-user-id'])} over h2c`);
  });
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2Origin.on('session', (session) => {
    h2Sessions.add(session);
    session.on('close', () => h2Sessions.delete(session));
  });
  const providerServer = http.createServer();
  const grants: string[] = [];
  let listener: H2Listener;
  /** A second edge whose client is public (no secret: PKCE alone), with its own cookie and key. */
  let publicListener: H2Listener;
  let publicEdge: string;
  let pools: ReturnType<typeof buildPools>;
  let filters: FilterHost;
  let browser: Browser;
  let edge: string;
  /** The edge under a name only curl reaches (a Host header), for callbacks the browser must not deliver. */
  let alias: string;
  let issuer: string;

  before(async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-oidc-'));
    await writeFile(path.join(dir, 'cookie.secret'), 'k'.repeat(12) + Math.random().toString(36).repeat(4) + '\n');
    await writeFile(path.join(dir, 'public.secret'), 'p'.repeat(12) + Math.random().toString(36).repeat(4) + '\n');
    await writeFile(path.join(dir, 'client.secret'), 'a-client-secret-for-the-edge-0123456789\n');
    for (const server of [h1Origin, h2Origin, providerServer]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(providerServer.address() as AddressInfo).port}`;
    const yaml = `pools:
  app: { backends: [ { address: 127.0.0.1:${(h1Origin.address() as AddressInfo).port} } ] }
  app2: { protocol: h2c, backends: [ { address: 127.0.0.1:${(h2Origin.address() as AddressInfo).port} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    access_log: false
    middleware:
      - oidc:
          issuer: ${issuer}
          client_id: edge
          client_secret_file: client.secret
          cookie_secret_file: cookie.secret
          refresh_before: 8s
          forward_claims: { sub: x-user-id, email: x-user-email }
          api_paths: [/api]
    routes:
      - { name: h2, match: { path_prefix: /h2 }, pool: app2 }
      - { name: app, match: { path_prefix: / }, pool: app }
  - name: public
    listen: 127.0.0.1:0
    protocol: h2c
    access_log: false
    middleware:
      - oidc: { issuer: '${issuer}', client_id: public-edge, cookie_secret_file: public.secret, cookie: sy_pub, forward_claims: { sub: x-user-id } }
    routes:
      - { match: { path_prefix: / }, pool: app }
`;
    const { config } = parseConfigText(yaml, 'edge.yaml', dir);
    pools = buildPools(config.pools, { clock: systemClock });
    filters = builtinFilterHost();
    listener = createH2Listener(config.listeners[0], { pools, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir, filters });
    await listener.start();
    publicListener = createH2Listener(config.listeners[1], { pools, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir, filters });
    await publicListener.start();
    publicEdge = `http://127.0.0.1:${publicListener.address().port}`;
    edge = `http://127.0.0.1:${listener.address().port}`;
    alias = `edge.test:${listener.address().port}`;

    // the provider: its client is the edge, redirect_uri at the edge's callback; access tokens live 10 s
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'edge',
          client_secret: 'a-client-secret-for-the-edge-0123456789',
          redirect_uris: [`${edge}/oauth2/callback`, `http://${alias}/oauth2/callback`],
          post_logout_redirect_uris: [`${edge}/`],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
        {
          client_id: 'public-edge',
          token_endpoint_auth_method: 'none',
          redirect_uris: [`${publicEdge}/oauth2/callback`],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.test`, email_verified: true, name: `User ${id}` }) }),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // the ID token carries the scope's claims in the code flow too (as most providers do)
      conformIdTokenClaims: false,
      issueRefreshToken: () => Promise.resolve(true),
      ttl: { AccessToken: 10, IdToken: 3600, RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600, AuthorizationCode: 60 },
      cookies: { keys: ['provider-cookie-key-for-the-test'] },
      features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    });
    provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: string } } }) => grants.push(String(ctx.oidc.params?.grant_type)));
    providerServer.on('request', provider.callback());
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  });

  after(async () => {
    await browser?.close();
    await listener?.stop();
    await publicListener?.stop();
    pools?.close();
    await filters?.close();
    for (const session of h2Sessions) session.destroy();
    providerServer.closeAllConnections();
    for (const server of [h1Origin, h2Origin, providerServer]) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  /** A browser context that reaches nothing but loopback (the provider's pages import web fonts). */
  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext();
    await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    return context;
  }

  /** Logs in (unless the provider session exists) and consents on the provider's development pages, then waits for `arrived`. */
  async function signIn(page: Page, user: string, arrived: Promise<unknown>): Promise<void> {
    if ((await page.locator('input[name=login]').count()) > 0) {
      await page.fill('input[name=login]', user);
      await page.fill('input[name=password]', 'any');
      await page.click('button[type=submit]');
    }
    await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await page.click('button[type=submit]');
    await arrived;
  }

  it('a browser logs in through the provider and the origin sees the user, never the session cookie', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      seen.length = 0;
      await page.goto(`${edge}/account/settings?tab=2`);
      assert.ok(page.url().startsWith(`${issuer}/interaction/`), `at the provider's login page: ${page.url()}`);
      assert.deepEqual([...seen], [], 'nothing upstream before login');
      await signIn(page, 'alice', page.waitForURL(`${edge}/account/settings?tab=2`));
      assert.equal(page.url(), `${edge}/account/settings?tab=2`, 'back where the user started');
      assert.equal(await page.textContent('body'), 'hello alice at /account/settings?tab=2');
      const cookies = await context.cookies(edge);
      const session = cookies.find((cookie) => cookie.name === 'sy_oidc');
      assert.ok(session, 'session cookie set');
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Lax');
      assert.equal(session.secure, false, 'no Secure on a plain-http listener');
      assert.ok(!cookies.some((cookie) => cookie.name === 'sy_oidc_state'), 'state cookie cleared');
      assert.deepEqual(seen.map(({ origin, path: url, user, email }) => ({ origin, path: url, user, email })), [{ origin: 'h1', path: '/account/settings?tab=2', user: 'alice', email: 'alice@example.test' }]);
      assert.ok(!(seen[0].cookie ?? '').includes('sy_oidc'), 'the session cookie stays at the edge');

      // the same session with curl, on both client protocols, to both pool kinds; a forged identity header is replaced
      for (const { name, flags } of clients) {
        for (const [prefix, origin] of [['/h1x', 'h1'], ['/h2/x', 'h2']]) {
          seen.length = 0;
          const reply = await curl(flags, `${edge}${prefix}`, [`cookie: theme=dark; sy_oidc=${session.value}`, 'x-user-id: mallory', 'authorization: Bearer client-token']);
          assert.equal(reply.status, 200, `${name} ${prefix}`);
          assert.deepEqual(seen, [{ origin, path: prefix, user: 'alice', email: 'alice@example.test', cookie: 'theme=dark', authorization: undefined }], `${name} ${prefix}`);
        }
      }
    } finally {
      await context.close();
    }
  });

  it('a public client (no secret, PKCE alone) logs in too, with its own cookie', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      seen.length = 0;
      await page.goto(`${publicEdge}/me`);
      await signIn(page, 'frank', page.waitForURL(`${publicEdge}/me`));
      assert.equal(await page.textContent('body'), 'hello frank at /me');
      assert.ok((await context.cookies(publicEdge)).some((cookie) => cookie.name === 'sy_pub'));
      assert.deepEqual(seen.map(({ user }) => user), ['frank']);
    } finally {
      await context.close();
    }
  });

  it('an API call without a session gets 401, and a navigation a redirect with a state cookie (HTTP/1.1 and HTTP/2)', async () => {
    seen.length = 0;
    for (const { name, flags } of clients) {
      for (const headers of [[], ['accept: application/json']]) {
        const api = await curl(flags, `${edge}${headers.length === 0 ? '/api/items' : '/page'}`, headers);
        assert.equal(api.status, 401, name);
        assert.equal(api.body, '{"error":"login required"}\n', name);
        assert.equal(field(api, 'content-type'), 'application/json', name);
      }
      assert.equal((await curl(flags, `${edge}/page`, ['x-requested-with: XMLHttpRequest'])).status, 401, name);
      assert.equal((await curl([...flags, '-X', 'POST'], `${edge}/page`)).status, 401, `${name} POST`);
      const page = await curl(flags, `${edge}/page?q=1`, ['accept: text/html']);
      assert.equal(page.status, 302, name);
      const location = new URL(field(page, 'location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, `${issuer}/auth`, name);
      assert.equal(location.searchParams.get('redirect_uri'), `${edge}/oauth2/callback`);
      assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
      assert.match(setCookies(page)[0], /^sy_oidc_state=[A-Za-z0-9_-]+; Path=\/oauth2\/callback; HttpOnly; SameSite=Lax; Max-Age=600$/);
    }
    assert.deepEqual([...seen], [], 'nothing upstream');
  });

  /**
   * Starts a login with curl (the state cookie) under the edge's second name `edge.test`, which the
   * browser cannot resolve: the browser signs in at the provider and its redirect to the edge's callback
   * fails, leaving the unused callback URL for any client to deliver (curl sends Host: edge.test).
   */
  async function loginUpToCallback(context: BrowserContext, user: string): Promise<{ callback: string; state: string }> {
    const start = await curl(['--http1.1'], `${edge}/dashboard`, [`host: ${alias}`]);
    const state = cookieOf(start, 'sy_oidc_state');
    assert.ok(state);
    const page = await context.newPage();
    const callback = new Promise<string>((resolve) => {
      page.on('request', (request) => {
        if (request.url().startsWith(`http://${alias}/oauth2/callback?`)) resolve(request.url());
      });
    });
    // a provider that needs no interaction sends the browser straight to the unresolvable callback
    await page.goto(field(start, 'location') ?? '').catch(() => undefined);
    if (page.url().startsWith(`${issuer}/interaction/`)) await signIn(page, user, callback);
    const url = new URL(await callback);
    await page.close();
    assert.ok(url.searchParams.get('code'));
    return { callback: `${edge}${url.pathname}${url.search}`, state };
  }

  it('the callback sets the session on HTTP/1.1 and HTTP/2; a replayed callback, a state mismatch and a missing state are refused', async () => {
    const context = await newContext();
    try {
      for (const { name, flags } of clients) {
        const { callback, state } = await loginUpToCallback(context, 'bob');
        seen.length = 0;
        // a state that is not the one this browser started with
        const forged = new URL(callback);
        forged.searchParams.set('state', 'x'.repeat(43));
        const mismatch = await curl(flags, forged.href, [`cookie: ${state}`, `host: ${alias}`]);
        assert.equal(mismatch.status, 400, name);
        assert.match(mismatch.body, /state does not match/);
        const missing = await curl(flags, callback, [`host: ${alias}`]);
        assert.equal(missing.status, 400, name);

        const done = await curl(flags, callback, [`cookie: ${state}`, `host: ${alias}`]);
        assert.equal(done.status, 302, `${name}: ${done.body}`);
        assert.equal(field(done, 'location'), '/dashboard');
        const session = cookieOf(done, 'sy_oidc');
        assert.ok(session, name);
        assert.ok(setCookies(done).some((value) => value.startsWith('sy_oidc_state=; ') && value.includes('Max-Age=0')), 'state cookie cleared');
        // the code was used: replaying the callback, even with the state cookie, gets nothing
        const replay = await curl(flags, callback, [`cookie: ${state}`, `host: ${alias}`]);
        assert.equal(replay.status, 401, name);
        assert.equal(cookieOf(replay, 'sy_oidc'), undefined);
        assert.deepEqual([...seen], [], `${name}: nothing upstream from the callbacks`);

        const after = await curl(flags, `${edge}/dashboard`, [`cookie: ${session}`]);
        assert.equal(after.status, 200, name);
        assert.equal(after.body, 'hello bob at /dashboard');
      }
    } finally {
      await context.close();
    }
  });

  it('a refusal from the provider and a callback naming another issuer are refused, nothing upstream', async () => {
    seen.length = 0;
    for (const { name, flags } of clients) {
      const start = await curl(flags, `${edge}/page`);
      const cookie = cookieOf(start, 'sy_oidc_state') ?? '';
      const state = new URL(field(start, 'location') ?? '').searchParams.get('state') ?? '';
      const denied = await curl(flags, `${edge}/oauth2/callback?error=access_denied&state=${state}`, [`cookie: ${cookie}`]);
      assert.equal(denied.status, 401, name);
      assert.match(denied.body, /refused by the provider: access_denied/);
      const mixup = await curl(flags, `${edge}/oauth2/callback?code=abc&state=${state}&iss=${encodeURIComponent('https://evil.example')}`, [`cookie: ${cookie}`]);
      assert.equal(mixup.status, 400, name);
      assert.match(mixup.body, /another issuer/);
    }
    assert.deepEqual([...seen], []);
  });

  it('a tampered or foreign session cookie is treated as logged out, and nothing goes upstream', async () => {
    const context = await newContext();
    try {
      const { callback, state } = await loginUpToCallback(context, 'carol');
      const session = cookieOf(await curl(['--http1.1'], callback, [`cookie: ${state}`, `host: ${alias}`]), 'sy_oidc') ?? '';
      const value = session.slice('sy_oidc='.length);
      const flipped = value.slice(0, 30) + (value[30] === 'A' ? 'B' : 'A') + value.slice(31);
      seen.length = 0;
      for (const { name, flags } of clients) {
        for (const bad of [flipped, value.slice(0, -4), 'not-a-session', state.slice('sy_oidc_state='.length)]) {
          const api = await curl(flags, `${edge}/api/me`, [`cookie: sy_oidc=${bad}`]);
          assert.equal(api.status, 401, `${name} ${bad.slice(0, 12)}`);
          assert.ok(setCookies(api).some((cookie) => cookie.startsWith('sy_oidc=; ') && cookie.includes('Max-Age=0')), 'the bad cookie is cleared');
          const page = await curl(flags, `${edge}/page`, [`cookie: sy_oidc=${bad}`]);
          assert.equal(page.status, 302, name);
        }
      }
      assert.deepEqual([...seen], []);
    } finally {
      await context.close();
    }
  });

  it('refreshes the session with the refresh token before the tokens expire, once for concurrent requests', async () => {
    const context = await newContext();
    try {
      const { callback, state } = await loginUpToCallback(context, 'dave');
      const session = cookieOf(await curl(['--http1.1'], callback, [`cookie: ${state}`, `host: ${alias}`]), 'sy_oidc') ?? '';
      grants.length = 0;
      // tokens live 10 s and refresh_before is 8 s: two seconds on, the session is due for refresh
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      seen.length = 0;
      const replies = await Promise.all(clients.flatMap(({ flags }) => [1, 2, 3].map(() => curl(flags, `${edge}/api/me`, [`cookie: ${session}`]))));
      for (const reply of replies) {
        assert.equal(reply.status, 200);
        assert.match(cookieOf(reply, 'sy_oidc') ?? '', /^sy_oidc=[A-Za-z0-9_-]+$/, 'a renewed session cookie');
      }
      assert.deepEqual(grants, ['refresh_token'], 'one refresh for six concurrent requests');
      assert.equal(seen.length, 6);
      assert.ok(seen.every((request) => request.user === 'dave'));
      const renewed = cookieOf(replies[0], 'sy_oidc') ?? '';
      const next = await curl(['--http1.1'], `${edge}/api/me`, [`cookie: ${renewed}`]);
      assert.equal(next.status, 200);
      assert.equal(setCookies(next).length, 0, 'a fresh session is not refreshed again');
    } finally {
      await context.close();
    }
  });

  it('logout clears the cookie, ends the provider session, and the protected route redirects again', async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${edge}/home`);
      await signIn(page, 'erin', page.waitForURL(`${edge}/home`));
      assert.equal(await page.textContent('body'), 'hello erin at /home');
      await page.goto(`${edge}/oauth2/logout`);
      // RP-initiated logout: the provider asks to confirm, then sends the browser back to the edge
      assert.ok(page.url().startsWith(issuer), page.url());
      // back at the edge's post_logout_redirect (/), which is protected: the provider's login page again
      const landed = page.waitForRequest(`${edge}/`);
      await Promise.all([page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`)), page.click('button[name=logout]')]);
      await landed;
      assert.ok(!(await context.cookies(edge)).some((cookie) => cookie.name === 'sy_oidc'), 'session cookie cleared');
      seen.length = 0;
      await page.goto(`${edge}/home`);
      assert.ok(page.url().startsWith(`${issuer}/interaction/`), `signed out at the provider too: ${page.url()}`);
      assert.deepEqual([...seen], []);
    } finally {
      await context.close();
    }
  });

  it('counts logins, refreshes and refusals in the filter metrics', () => {
    const events = new Map(filters.snapshot().filter((series) => series.filter === 'oidc').map((series) => [series.event, series.count]));
    assert.ok((events.get('login') ?? 0) >= 4);
    assert.ok((events.get('refresh') ?? 0) >= 1);
    assert.ok((events.get('callback_bad_state') ?? 0) >= 2);
    assert.ok((events.get('login_failed') ?? 0) >= 2);
    assert.ok((events.get('unauthenticated') ?? 0) >= 8);
  });
});
