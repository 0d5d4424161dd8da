// The admin listener's dashboard in a real browser (playwright-core driving Debian's chromium) against a real
// `switchyard start` with two origin processes: the login form, a refused wrong token, the session cookie
// (HttpOnly, SameSite=Strict, not the token), the live topology (server-sent events) turning a killed
// origin red, drain from the page behind a confirmation (new requests stop reaching the drained origin),
// a cache purge from the page (the next request goes to the origin again), and every /api endpoint refusing a request with
// neither token nor cookie; the requests table filling with traffic (a 404 with its reason no_route, an
// error filter) and a request's waterfall with the origin's Server-Timing (app, db) inside the upstream bar;
// a pool chart with data points; the DNS panel; reload from the page; over HTTPS the cookie is Secure.
// UPDATE_DASHBOARD_SCREENSHOT=1 also writes docs/dashboard.png.
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startOriginProcess, type OriginProcess } from '../../support/origin-process.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { artifactDir } from '../../support/artifacts.ts';
import { projectRoot, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// health: interval 200ms, fall 2 → a dead origin is unhealthy after ~2 × 200ms (+ timeout); 5 s is slack
const healthWaitMs = 5_000;
// the requests table polls every 2 s; a loaded CI machine may take several polls to show a change
const tableWaitMs = 15_000;

describe('admin dashboard in chromium', { timeout: 120_000 }, () => {
  let a: OriginProcess;
  let b: OriginProcess;
  /** Behind the `cache` filter's route. */
  let cached: EchoOrigin;
  let sy: RunningSwitchyard;
  let token: string;
  let admin: string;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let shots: string;
  let web: string;

  before(async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    [a, b, cached] = await Promise.all([startOriginProcess({ name: 'a' }), startOriginProcess({ name: 'b' }), startEchoOrigin({ name: 'cached' })]);
    sy = await runSwitchyard(`
log: { access_log: "off" }
admin: { listen: 127.0.0.1:0 }
pools:
  app:
    backends: [ { address: ${a.address} }, { address: ${b.address} } ]
    health: { type: http, path: /healthz, interval: 200ms, timeout: 300ms, rise: 2, fall: 2 }
  stored:
    backends: [ { address: ${cached.address} } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: /app }, pool: app }
      - { match: { path_prefix: /cached }, pool: stored, middleware: [ { cache: { max_size: 1mb } } ] }
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
        - { name: lb, type: A, pool: app }
`);
    web = `http://127.0.0.1:${sy.ready.listeners.web.port}`;
    token = (await readFile(path.join(sy.dir, 'data', 'admin.token'), 'utf8')).trim();
    admin = `http://127.0.0.1:${sy.ready.admin!.port}`;
    shots = await artifactDir('dashboard');
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await sy?.stop();
    await Promise.all([a?.close(), b?.close(), cached?.close()]);
  });

  const apiPools = async (): Promise<{ name: string; backends: { id: string; state: string }[] }[]> => {
    const response = await fetch(`${admin}/api/pools`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    return (await response.json()) as { name: string; backends: { id: string; state: string }[] }[];
  };
  const row = (backend: OriginProcess) => page.locator(`tr.backend[data-backend="${backend.address}"]`);

  it('refuses every /api endpoint (and /metrics) without token or cookie', async () => {
    const calls: [string, string][] = [
      ['GET', '/metrics'],
      ['GET', '/api/status'],
      ['GET', '/api/pools'],
      ['GET', '/api/events'],
      ['GET', `/api/explain?url=${encodeURIComponent('http://x/')}`],
      ['GET', '/api/requests'],
      ['GET', '/api/history'],
      ['GET', '/api/dns'],
      ['POST', '/api/reload'],
      ['POST', `/api/pools/app/backends/${a.address}/drain`],
      ['POST', `/api/pools/app/backends/${a.address}/enable`],
    ];
    for (const [method, pathname] of calls) {
      const response = await fetch(`${admin}${pathname}`, { method, headers: { cookie: 'switchyard_admin=1.2.3' } });
      assert.equal(response.status, 401, `${method} ${pathname}`);
      await response.body?.cancel();
    }
  });

  it('shows the login form without a cookie, under a strict CSP, and refuses a wrong token', async () => {
    const response = await page.goto(`${admin}/`);
    const headers = response!.headers();
    assert.match(headers['content-security-policy'], /default-src 'self'/);
    assert.equal(headers['x-frame-options'], 'DENY');
    await page.locator('#login-form').waitFor({ timeout: 5_000 });

    await page.fill('#login-form [name=token]', `${token.slice(0, -1)}x`);
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/login')), page.click('#login-form button[type=submit]')]);
    assert.equal(refused.status(), 401);
    assert.match(await page.locator('#login-error').innerText(), /wrong admin token/);
    assert.deepEqual(await context.cookies(), []);
  });

  it('logs in with the token: an HttpOnly, SameSite=Strict cookie that is not the token, and both backends healthy', async () => {
    await page.fill('#login-form [name=token]', token);
    await page.click('#login-form button[type=submit]');
    await row(a).and(page.locator('[data-state=healthy]')).waitFor({ timeout: healthWaitMs });
    await row(b).and(page.locator('[data-state=healthy]')).waitFor({ timeout: healthWaitMs });
    assert.match(await page.locator('tr[data-listener=web]').innerText(), /web\s+http\s+127\.0\.0\.1:\d+\s+path_prefix \/app → pool app/);

    const [cookie, ...others] = await context.cookies();
    assert.equal(others.length, 0);
    assert.equal(cookie.name, 'switchyard_admin');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    assert.ok(!cookie.value.includes(token), 'the cookie carries the token in clear');
    assert.equal(await page.evaluate('document.cookie'), '', 'script can read the session cookie');

    // the cookie alone is enough for GETs, not for POSTs: those need the page's CSRF header too
    const jar = { cookie: `${cookie.name}=${cookie.value}` };
    assert.equal((await fetch(`${admin}/api/pools`, { headers: jar })).status, 200);
    const drainA = `${admin}/api/pools/app/backends/${a.address}/drain`;
    assert.equal((await fetch(drainA, { method: 'POST', headers: jar })).status, 401);
    assert.equal((await fetch(drainA, { method: 'POST', headers: { ...jar, 'x-switchyard-csrf': 'f'.repeat(64) } })).status, 401);
  });

  it('prints the dashboard URL in the ready line', () => {
    assert.equal(sy.ready.dashboard, `${admin}/dashboard`);
  });

  it('fills the requests table as traffic flows; a traced edge-made 404 says why in x-switchyard-reason', async () => {
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${web}/app/slowish?delay=40&n=${i}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('server-timing') ?? '', /app;dur=40/);
      await response.text();
    }
    const traced = await fetch(`${web}/nowhere`, { headers: { 'x-switchyard-trace': token } });
    assert.equal(traced.status, 404);
    assert.equal(traced.headers.get('x-switchyard-reason'), 'no_route');
    await traced.text();
    const untraced = await fetch(`${web}/nowhere`, { headers: { 'x-switchyard-trace': 'not-the-token' } });
    assert.equal(untraced.headers.get('x-switchyard-reason'), null, 'the reason goes only to holders of the admin token');
    await untraced.text();

    await page.locator('tr.request[data-status="404"][data-reason="no_route"]').first().waitFor({ timeout: tableWaitMs });
    assert.ok((await page.locator('tr.request[data-status="200"][data-route]').count()) >= 4);

    // the admin API filters the same way the table does
    const byStatus = (await (await fetch(`${admin}/api/requests?status=404`, { headers: { authorization: `Bearer ${token}` } })).json()) as { status: number; reason: string }[];
    assert.ok(byStatus.length >= 2 && byStatus.every((r) => r.status === 404 && r.reason === 'no_route'));
    assert.equal((await fetch(`${admin}/api/requests?status=teapot`, { headers: { authorization: `Bearer ${token}` } })).status, 400);
    // the first request of a connection begins at its accept; later ones on the kept-alive connection at their first byte
    const all = (await (await fetch(`${admin}/api/requests?route=%230`, { headers: { authorization: `Bearer ${token}` } })).json()) as { path: string; phases: { arrived: number; head: number } }[];
    assert.equal(all.length, 4);
    assert.ok(all.some((r) => r.phases.arrived >= 0 && r.phases.arrived <= r.phases.head), 'a first request with its accept');
    assert.ok(all.some((r) => r.phases.arrived === -1), 'a request on a reused connection');

    await page.fill('#filter-status', '404');
    await page.click('.filters button[type=submit]');
    await page.waitForFunction(`(() => { const rows = [...document.querySelectorAll('tr.request')]; return rows.length > 0 && rows.every((row) => row.getAttribute('data-status') === '404'); })()`, undefined, { timeout: tableWaitMs });
    await page.fill('#filter-status', '');
    await page.click('.filters button[type=submit]');
    await page.locator('tr.request[data-status="200"]').first().waitFor({ timeout: tableWaitMs });
  });

  it('opens a waterfall: phases in order, the origin\'s app and db Server-Timing inside the upstream bar', async () => {
    await page.locator('tr.request', { hasText: '/app/slowish' }).first().click();
    const svg = page.locator('#waterfall svg.waterfall');
    await svg.waitFor({ timeout: 5_000 });
    const span = async (selector: string): Promise<{ from: number; to: number; x: number; w: number }> => {
      const el = svg.locator(selector).first();
      const [from, to, x, w] = await Promise.all(['data-from', 'data-to', 'x', 'width'].map((name) => el.getAttribute(name)));
      return { from: Number(from), to: Number(to), x: Number(x), w: Number(w) };
    };
    const headers = await span('[data-phase=headers] .wf-bar');
    const route = await span('[data-phase=route] .wf-bar');
    const upstream = await span('[data-phase=upstream] .wf-bar');
    const connect = await span('[data-phase=upstream] [data-part=connect]');
    const wait = await span('[data-phase=upstream] [data-part=wait]');
    const response = await span('[data-phase=response] .wf-bar');
    const app = await span('[data-phase=upstream] [data-timing=app]');
    const db = await span('[data-phase=upstream] [data-timing=db]');
    assert.ok(headers.to <= route.to && route.to <= upstream.from, 'headers, route, then the upstream');
    assert.ok(upstream.from <= connect.from && connect.to <= wait.from + 1e-9 && wait.to <= upstream.to, 'connect, then wait, inside the attempt');
    assert.ok(wait.to - wait.from >= 40, `the upstream wait holds the origin's 40 ms (${wait.to - wait.from})`);
    assert.ok(response.to === upstream.to, 'the response ends with the attempt');
    for (const [name, inner] of [['app', app], ['db', db]] as const) {
      assert.ok(inner.x >= upstream.x - 0.01 && inner.x + inner.w <= upstream.x + upstream.w + 0.01, `${name} is drawn inside the upstream bar`);
    }
    assert.ok(Math.abs(app.to - app.from - 40) < 0.5 && Math.abs(db.to - db.from - 20) < 0.5, 'app 40 ms, db 20 ms, as the origin said');
    assert.ok(db.x >= app.x && db.x + db.w <= app.x + app.w + 0.01, 'db inside app');
  });

  it('draws a pool chart with data points within one sampling interval', async () => {
    await page.locator('[data-pool-charts=app] svg[data-chart=rate]').waitFor({ timeout: 15_000 });
    await page.waitForFunction(`Number(document.querySelector('[data-pool-charts=app] svg[data-chart=rate]')?.getAttribute('data-points')) > 0`, undefined, { timeout: 15_000 });
    assert.ok((await page.locator('[data-pool-charts=app] svg[data-chart=latency] polyline').count()) >= 1);
  });

  it('shows the DNS panel: zones, queries by type and rcode, what the pool-backed record answers now', async () => {
    const dns = sy.ready.dns!.find((d) => d.transport === 'udp')!;
    const run = promisify(execFile);
    const { stdout } = await run('dig', ['+short', '+time=2', '+tries=1', '-p', String(dns.port), '@127.0.0.1', 'lb.example.test', 'A'], { timeout: 10_000 });
    assert.equal(stdout.trim(), '127.0.0.1');
    await run('dig', ['+time=2', '+tries=1', '-p', String(dns.port), '@127.0.0.1', 'nope.example.test', 'AAAA'], { timeout: 10_000 });
    await page.locator('#dns-zones', { hasText: 'example.test.' }).waitFor({ timeout: 8_000 });
    assert.match(await page.locator('#dns-pool-records tr[data-record="lb.example.test."]').innerText(), /lb\.example\.test\.\s+A\s+app\s+127\.0\.0\.1/);
    await page.locator('#dns', { hasText: /queries by type: .*A 1.*AAAA 1|queries by type: .*AAAA 1.*A 1/ }).waitFor({ timeout: 8_000 });
    assert.match(await page.locator('#dns').innerText(), /responses by rcode: .*NXDOMAIN 1/);

    // the page as docs/dashboard.png shows it: charts, requests, a waterfall, DNS
    const shot = path.join(shots, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    if (process.env.UPDATE_DASHBOARD_SCREENSHOT === '1') await copyFile(shot, path.join(projectRoot, 'docs', 'dashboard.png'));
  });

  it('reloads the config from the page after the confirmation', async () => {
    const dialog = new Promise<string>((resolve) => {
      page.once('dialog', (d) => {
        resolve(d.message());
        void d.accept();
      });
    });
    await page.click('#action-reload');
    assert.match(await dialog, /Reload the configuration file/);
    await page.locator('#notice', { hasText: /^reloaded / }).waitFor({ timeout: 10_000 });
  });

  it('purges the cache from the page after the confirmation: the next request goes to the origin again', async () => {
    const url = `${web}/cached/page?header=cache-control:max-age%3D300`;
    const get = async (): Promise<void> => {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      await response.text();
    };
    await get();
    await get();
    assert.equal(cached.requests(), 1, 'the second answer came from the cache');
    const dialog = new Promise<string>((resolve) => {
      page.once('dialog', (d) => {
        resolve(d.message());
        void d.accept();
      });
    });
    await page.fill('#purge-url', url);
    await page.click('#action-purge');
    assert.equal(await dialog, `Purge the cache for ${url}?`);
    await page.locator('#notice', { hasText: /^cache purge: 1 entries dropped$/ }).waitFor({ timeout: 10_000 });
    await get();
    assert.equal(cached.requests(), 2, 'purged: the origin answers again');
  });

  it('turns a killed origin red within the health interval', async () => {
    await b.kill();
    await row(b).and(page.locator('[data-state=unhealthy]')).waitFor({ timeout: healthWaitMs });
    await row(a).and(page.locator('[data-state=healthy]')).waitFor({ timeout: 1_000 });
    // the timeline (polled every 5 s) keeps the transition with its time
    await page.locator(`#timeline tr[data-event=unhealthy][data-backend="${b.address}"]`).waitFor({ timeout: 8_000 });
  });

  it('drains a backend from the page after the confirmation: the admin API agrees and new requests stop reaching it', async () => {
    // b back first, so the pool keeps a usable backend once a is drained
    await b.restart();
    await row(b).and(page.locator('[data-state=healthy]')).waitFor({ timeout: healthWaitMs });
    /** n requests to the pool; the origins that answered them (x-origin), counted. */
    const traffic = async (n: number): Promise<Record<string, number>> => {
      const served: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const response = await fetch(`${web}/app/drain-check`);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        const origin = response.headers.get('x-origin') ?? '?';
        served[origin] = (served[origin] ?? 0) + 1;
      }
      return served;
    };
    const before = await traffic(10);
    assert.ok((before.a ?? 0) > 0 && (before.b ?? 0) > 0, `round robin sends to both before the drain: ${JSON.stringify(before)}`);
    const dialog = new Promise<string>((resolve) => {
      page.once('dialog', (d) => {
        resolve(d.message());
        void d.accept();
      });
    });
    await row(a).locator('button.drain').click();
    assert.match(await dialog, new RegExp(`Drain backend ${a.address.replace(/\./g, '\\.')} of pool app`));
    await row(a).and(page.locator('[data-state=draining]')).waitFor({ timeout: 5_000 });
    const pool = (await apiPools()).find((p) => p.name === 'app')!;
    assert.equal(pool.backends.find((x) => x.id === a.address)?.state, 'draining');
    // the page shows the drain once the admin API answered, and it answers once every worker has it
    const atA = (await a.stats()).requests['/app/drain-check'] ?? 0;
    const atB = (await b.stats()).requests['/app/drain-check'] ?? 0;
    assert.deepEqual(await traffic(20), { b: 20 }, 'every new request goes to the other backend');
    assert.equal((await a.stats()).requests['/app/drain-check'] ?? 0, atA, 'the drained origin counted no new request');
    assert.equal((await b.stats()).requests['/app/drain-check'], atB + 20);
    // the topology's listener row counts requests (not connections: fetch keeps its connection alive)
    const status = (await (await fetch(`${admin}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { traffic: { listeners: Record<string, { requests: number; connections: number }> }[] };
    const requests = status.traffic.reduce((sum, worker) => sum + (worker.listeners.web?.requests ?? 0), 0);
    assert.ok(requests >= 30, `the web listener finished at least the 30 requests of this test, says ${requests}`);
    // (a number of 30 or more: the page's CSP allows no string evaluation, so a text pattern says it)
    await page.locator('section.listeners tbody tr td:last-child', { hasText: /^([3-9]\d|\d{3,})$/ }).first().waitFor({ timeout: 10_000 });

    const shot = path.join(shots, 'drained.png');
    await page.screenshot({ path: shot });
    assert.ok(existsSync(shot));
  });

  it('a dismissed confirmation changes nothing; enable brings the backend back', async () => {
    page.once('dialog', (d) => void d.dismiss());
    await row(a).locator('button.enable').click();
    assert.equal((await apiPools())[0].backends.find((x) => x.id === a.address)?.state, 'draining');
    page.once('dialog', (d) => void d.accept());
    await row(a).locator('button.enable').click();
    await row(a).and(page.locator('[data-state=healthy]')).waitFor({ timeout: 5_000 });
  });
});

test('over HTTPS (admin.tls) the session cookie is also Secure', { timeout: 30_000 }, async (t) => {
  const run = promisify(execFile);
  const certs = await mkdtemp(path.join(tmpdir(), 'dashboard-tls-'));
  t.after(() => rm(certs, { recursive: true, force: true }));
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'admin.key', '-out', 'admin.pem', '-days', '2', '-subj', '/CN=switchyard admin', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: certs, timeout: 20_000 });
  const cert = path.join(certs, 'admin.pem');
  const edge = await runSwitchyard(`admin:\n  listen: 127.0.0.1:0\n  tls: { cert: ${cert}, key: ${path.join(certs, 'admin.key')} }\n`, { args: ['--workers', '0'] });
  t.after(() => edge.stop());
  const token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
  const { stdout } = await run('curl', ['-sS', '--cacert', cert, '-D', '-', '-o', '/dev/null', '--data-urlencode', `token=${token}`, `https://127.0.0.1:${edge.ready.admin!.port}/dashboard/login`], { timeout: 20_000 });
  assert.match(stdout, /^HTTP\/1\.1 303/);
  const cookie = /^set-cookie: (.*)\r$/im.exec(stdout)?.[1] ?? '';
  assert.match(cookie, /^switchyard_admin=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200; Secure$/);
  assert.ok(!cookie.includes(token));
});
