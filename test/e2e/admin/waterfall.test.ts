// A request's waterfall in the dashboard, in a real browser (playwright-core driving Debian's chromium)
// against a real `switchyard start`, for HTTP/1.1 and HTTP/2 clients (curl): the TLS handshake of a new
// TLS connection drawn before the headers; each middleware filter of the route as its own bar; each retry
// attempt as its own bar (the first backend refuses the connection); and an h2c pool's Server-Timing (app,
// db) drawn inside the upstream bar, as the HTTP/1.1 upstream path has it. Each request carries its own
// X-Request-Id, and the page opens it by the dashboard's #request=<id> link. The pick row names the policy
// and the candidates the pick considered: on a retry the refused backend is `tried`, the other chosen.
// UPDATE_DASHBOARD_SCREENSHOT=1 also writes docs/waterfall.png (the HTTP/2 retried request's waterfall).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import path from 'node:path';
import { promisify } from 'node:util';
import { refusedPort } from '../../support/origins.ts';
import { curlText } from '../../support/curl-text.ts';
import { artifactDir } from '../../support/artifacts.ts';
import { projectRoot, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const run = promisify(execFile);
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** What GET /api/requests says of one request (the parts this test reads). */
interface Recent {
  id: string;
  protocol: string;
  attempts: number;
  phases: { tls: number; head: number; pick: number; firstByte: number; done: number };
  serverTiming: string;
  filters: { name: string; request: [number, number] | null; upstream: [number, number] | null; response: [number, number] | null; body: [number, number] | null }[];
  earlierAttempts: { backend: string; outcome: string; pick: number; done: number }[];
  pick: { policy: string; preferred: boolean; more: number; candidates: { backend: string; state: string; inflight: number; weight: number; chosen: boolean }[] } | null;
}

interface Span {
  from: number;
  to: number;
  x: number;
  w: number;
}

/** A plain HTTP/1.1 origin and an h2c one that report their own time as an application does (app, db). */
async function startOrigins(): Promise<{ h1: string; h2: string; close(): Promise<void> }> {
  const h1 = http.createServer((req, res) => {
    res.setHeader('server-timing', 'app;dur=5');
    if (req.url?.startsWith('/compressed')) {
      res.setHeader('content-type', 'text/plain');
      res.end('compress me, '.repeat(4096));
      return;
    }
    res.end('h1 ok\n');
  });
  const h2 = http2.createServer((req, res) => {
    setTimeout(() => {
      if (req.url.startsWith('/h2compressed')) {
        res.setHeader('content-type', 'text/plain');
        res.end('compress me, '.repeat(4096));
        return;
      }
      res.setHeader('server-timing', 'app;dur=30, db;dur=12;desc="select"');
      res.end('h2 ok\n');
    }, 30);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const listen = (server: http.Server | http2.Http2Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  const [p1, p2] = await Promise.all([listen(h1), listen(h2)]);
  return {
    h1: `127.0.0.1:${p1}`,
    h2: `127.0.0.1:${p2}`,
    close: async () => {
      h1.closeAllConnections();
      for (const session of sessions) session.destroy();
      await Promise.all([new Promise((resolve) => h1.close(resolve)), new Promise((resolve) => h2.close(resolve))]);
    },
  };
}

const config = (h1: string, h2: string, dead: number): string => `
log: { access_log: "off" }
admin: { listen: 127.0.0.1:0 }
pools:
  app:
    backends: [ { address: ${h1} } ]
  flaky:
    # round_robin begins with the first backend: a worker's first request to it is refused, then retried
    backends: [ { address: 127.0.0.1:${dead} }, { address: ${h1} } ]
    retries: { attempts: 1, on: [connect_error] }
  drained:
    balance: least_conn
    backends: [ { address: ${h1}, drain: true }, { address: 127.0.0.1:${dead}, drain: true } ]
  grpcish:
    protocol: h2c
    backends: [ { address: ${h2} } ]
  grpcish_flaky:
    protocol: h2c
    backends: [ { address: 127.0.0.1:${dead} }, { address: ${h2} } ]
    retries: { attempts: 1, on: [connect_error] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes: &routes
      - match: { path_prefix: /filtered }
        pool: app
        middleware:
          - headers: { request: { set: { x-edge: "yes" } }, response: { set: { x-filtered: "yes" } } }
          - cors: { origins: ["https://app.example.test"] }
      - match: { path_prefix: /compressed }
        pool: app
        middleware: [ { compress: { encodings: [gzip] } } ]
      - match: { path_prefix: /h2compressed }
        pool: grpcish
        middleware: [ { compress: { encodings: [gzip] } } ]
      - { match: { path_prefix: /drained }, pool: drained }
      - match: { path_prefix: /flaky }
        pool: flaky
        middleware:
          - headers: { response: { set: { x-flaky: "yes" } } }
          - cors: { origins: ["https://app.example.test"] }
      - { match: { path_prefix: /h2pool }, pool: grpcish }
      - { match: { path_prefix: /h2flaky }, pool: grpcish_flaky }
      - { match: { path_prefix: / }, pool: app }
  - name: secure
    protocol: https
    listen: 127.0.0.1:0
    tls: { self_signed: true }
    routes: *routes
  - name: secure_node
    protocol: https
    listen: 127.0.0.1:0
    tls: { self_signed: true }
    http2: { engine: node }
    routes: *routes
`;

describe('request waterfalls in chromium: TLS, filters, retries, an h2c pool\'s Server-Timing', { timeout: 90_000 }, () => {
  let origins: Awaited<ReturnType<typeof startOrigins>>;
  let dead: number;
  let sy: RunningSwitchyard;
  let token: string;
  let admin: string;
  let web: string;
  let secure: string;
  let browser: Browser | undefined;
  let page: Page;
  let shots: string;

  before(async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    [origins, dead] = await Promise.all([startOrigins(), refusedPort()]);
    sy = await runSwitchyard(config(origins.h1, origins.h2, dead));
    web = `http://127.0.0.1:${sy.ready.listeners.web.port}`;
    secure = `https://127.0.0.1:${sy.ready.listeners.secure.port}`;
    token = (await readFile(path.join(sy.dir, 'data', 'admin.token'), 'utf8')).trim();
    admin = `http://127.0.0.1:${sy.ready.admin!.port}`;
    shots = await artifactDir('waterfall');
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    await page.goto(`${admin}/`);
    await page.fill('#login-form [name=token]', token);
    await page.click('#login-form button[type=submit]');
    await page.locator('#requests').waitFor({ timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    await sy?.stop();
    await origins?.close();
  });

  const clients = [
    { name: 'HTTP/1.1', flags: ['--http1.1'], tag: 'h1', listener: 'secure' },
    { name: 'HTTP/2', flags: ['--http2'], tag: 'h2', listener: 'secure' },
  ];
  const tlsClients = [...clients, { name: 'HTTP/2 (http2.engine: node)', flags: ['--http2'], tag: 'h2', listener: 'secure_node' }];

  /** One request by curl (-k: the listener's self-signed certificate) with its own request id. */
  const send = async (flags: string[], url: string, id: string, fields: string[] = []) => {
    const reply = await curlText(['-k', ...flags], url, [`x-request-id: ${id}`, ...fields]);
    assert.equal(reply.status, 200, `${url}: ${reply.body}`);
    return reply;
  };

  /** The ring's entry for request `id` (every worker asked; the entry is written as the response ends). */
  const recent = async (id: string): Promise<Recent | undefined> => {
    const response = await fetch(`${admin}/api/requests?request_id=${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    return ((await response.json()) as Recent[])[0];
  };

  const recentEventually = async (id: string): Promise<Recent> => {
    for (let i = 0; i < 50; i++) {
      const found = await recent(id);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`request ${id} never reached the recent-requests ring`);
  };

  /** Opens request `id`'s waterfall through the dashboard's link form (#request=<id>); returns its SVG. */
  const openWaterfall = async (id: string): Promise<Locator> => {
    await page.evaluate(`location.hash = ${JSON.stringify(`request=${encodeURIComponent(id)}`)}`);
    const svg = page.locator(`#waterfall svg.waterfall[data-request="${id}"]`);
    await svg.waitFor({ timeout: 5_000 });
    return svg;
  };

  const span = async (svg: Locator, selector: string): Promise<Span> => {
    const el = svg.locator(selector).first();
    const [from, to, x, w] = await Promise.all(['data-from', 'data-to', 'x', 'width'].map((name) => el.getAttribute(name)));
    return { from: Number(from), to: Number(to), x: Number(x), w: Number(w) };
  };

  const inside = (inner: Span, outer: Span): boolean => inner.x >= outer.x - 0.01 && inner.x + inner.w <= outer.x + outer.w + 0.01;

  for (const client of tlsClients) {
    it(`${client.name} over TLS: the first request of a connection shows its TLS handshake before the headers`, async () => {
      const secure = `https://127.0.0.1:${sy.ready.listeners[client.listener].port}`;
      const id = `wf-tls-${client.tag}-${client.listener}`;
      await send(client.flags, `${secure}/plain`, id);
      const entry = await recentEventually(id);
      assert.equal(entry.protocol, client.tag === 'h2' ? 'h2' : '');
      assert.ok(entry.phases.tls > 0 && entry.phases.tls <= entry.phases.head, `tls ${entry.phases.tls} ms, then headers ${entry.phases.head} ms`);

      const svg = await openWaterfall(id);
      const phases = await svg.locator('g.wf-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-phase')));
      assert.ok(phases.indexOf('tls') > 0 && phases.indexOf('tls') < phases.indexOf('headers'), `rows: ${phases.join(', ')}`);
      const tls = await span(svg, '[data-phase=tls] .wf-bar');
      const headers = await span(svg, '[data-phase=headers] .wf-bar');
      assert.equal(tls.from, 0, 'the handshake begins at the accept');
      assert.ok(tls.to > 0 && tls.to <= headers.to, 'the handshake ends before the headers are read');
      assert.ok(tls.x + tls.w <= headers.x + headers.w + 0.01);

      // the second request on the connection (curl reuses it for its second URL) has no handshake of its own
      const again = `${id}-again`;
      await run('curl', ['-sSk', '--max-time', '10', ...client.flags, '-H', `x-request-id: ${again}`, '-o', '/dev/null', '-o', '/dev/null', `${secure}/plain?1`, `${secure}/plain?2`], { timeout: 15_000 });
      await recentEventually(again);
      let both: Recent[] = [];
      for (let i = 0; i < 50 && both.length < 2; i++) {
        const response = await fetch(`${admin}/api/requests?request_id=${again}`, { headers: { authorization: `Bearer ${token}` } });
        both = (await response.json()) as Recent[];
        if (both.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(both.map((r) => r.phases.tls > 0).sort(), [false, true], 'only the connection\'s first request shows the handshake');
    });
  }

  for (const client of clients) {
    it(`${client.name}: a route with two middleware shows each filter as its own bar, request and response phases`, async () => {
      const id = `wf-filters-${client.tag}`;
      const reply = await send(client.flags, `${client.tag === 'h2' ? secure : web}/filtered/x`, id, ['origin: https://app.example.test']);
      assert.equal(reply.headers['x-filtered'], 'yes');
      assert.equal(reply.headers['access-control-allow-origin'], 'https://app.example.test');
      const entry = await recentEventually(id);
      assert.deepEqual(
        entry.filters.map((f) => f.name),
        ['headers', 'cors'],
      );
      const [headersFilter, cors] = entry.filters;
      assert.ok(headersFilter.upstream !== null && headersFilter.response !== null, 'headers edits the upstream head and the response');
      assert.ok(cors.request !== null && cors.response !== null, 'cors looks at the request and the response');
      assert.ok(cors.request[0] >= entry.phases.head && cors.request[1] <= entry.phases.pick, `request filters run after the head, before the pick: ${JSON.stringify(entry)}`);
      assert.ok(headersFilter.response[0] >= entry.phases.firstByte, 'response filters run at the response head');

      const svg = await openWaterfall(id);
      const rows = svg.locator('[data-phase=filter]');
      assert.equal(await rows.count(), 2);
      assert.deepEqual(await rows.evaluateAll((gs) => gs.map((g) => g.getAttribute('data-filter'))), ['headers', 'cors']);
      const route = await span(svg, '[data-phase=route] .wf-bar');
      const corsRequest = await span(svg, '[data-filter=cors] [data-part=request]');
      const corsResponse = await span(svg, '[data-filter=cors] [data-part=response]');
      const headersResponse = await span(svg, '[data-filter=headers] [data-part=response]');
      const upstream = await span(svg, '[data-phase=upstream] .wf-bar');
      assert.ok(corsRequest.from >= route.from && corsRequest.to <= route.to + 1e-9, 'the request phase lies within route + filters');
      assert.ok(corsResponse.from >= corsRequest.to && headersResponse.from >= upstream.from, 'the response phases come with the response');
      assert.match(await rows.first().locator('.wf-label').textContent() ?? '', /^filter headers: up [\d.]+, resp [\d.]+ ms$/);
    });

    for (const target of ['compressed', 'h2compressed']) it(`${client.name}: a compressed response (${target === 'compressed' ? 'HTTP/1.1' : 'h2c'} pool) shows the body transform's time in the compress filter's row`, async () => {
      const id = `wf-${target}-${client.tag}`;
      const reply = await curlText(['-k', ...client.flags], `${client.tag === 'h2' ? secure : web}/${target}/x`, [`x-request-id: ${id}`, 'accept-encoding: gzip']);
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-encoding'], 'gzip');
      const entry = await recentEventually(id);
      const [compress] = entry.filters;
      assert.equal(compress.name, 'compress');
      assert.ok(compress.response !== null && compress.body !== null, `the head hook and the body transform are timed: ${JSON.stringify(compress)}`);
      assert.ok(compress.body[0] >= compress.response[1] && compress.body[0] >= entry.phases.firstByte, 'the transform starts with the upstream body');
      assert.ok(compress.body[1] >= compress.body[0] && compress.body[1] <= entry.phases.done, `and ends by the last byte sent: ${JSON.stringify(entry)}`);

      const svg = await openWaterfall(id);
      const transform = await span(svg, '[data-filter=compress] [data-part=transform]');
      assert.equal(transform.from, compress.body[0]);
      assert.match(await svg.locator('[data-filter=compress] .wf-label').textContent() ?? '', /^filter compress: resp [\d.]+, body [\d.]+ ms$/);
    });

    it(`${client.name}: a pick that finds no usable backend (503) shows its candidates, none chosen`, async () => {
      const id = `wf-nobackend-${client.tag}`;
      const reply = await curlText(['-k', ...client.flags], `${client.tag === 'h2' ? secure : web}/drained/x`, [`x-request-id: ${id}`]);
      assert.equal(reply.status, 503);
      const entry = await recentEventually(id);
      assert.equal(entry.pick?.policy, 'least_conn');
      assert.deepEqual(
        entry.pick?.candidates.map((c) => [c.backend, c.state, c.chosen]),
        [
          [origins.h1, 'draining', false],
          [`127.0.0.1:${dead}`, 'draining', false],
        ],
      );
      const svg = await openWaterfall(id);
      assert.equal(await svg.locator('[data-phase=pick] .wf-label').first().evaluate((el) => el.firstChild?.textContent), 'pick: least_conn, 0/2 usable → none');
      assert.equal(await svg.locator('[data-phase=upstream]').count(), 0, 'no upstream attempt');
      // least_conn compares in flight per unit of weight: the table shows that load too
      assert.deepEqual(await page.locator('#pick-candidates thead th').allTextContents(), ['', 'backend', 'state', 'in flight', 'weight', 'load']);
      assert.deepEqual(await page.locator('#pick-candidates td.load').allTextContents(), ['0.00', '0.00']);
    });

    it(`${client.name}: a retried request (the first backend refuses) shows both attempts`, async () => {
      // each worker's round robin begins with the dead backend: within a few requests one is retried
      let entry: Recent | undefined;
      let id = '';
      for (let i = 0; i < 8 && entry === undefined; i++) {
        id = `wf-retry-${client.tag}-${i}`;
        await send(client.flags, `${client.tag === 'h2' ? secure : web}/flaky/${i}`, id);
        const found = await recentEventually(id);
        if (found.attempts === 2) entry = found;
      }
      assert.ok(entry, 'no request was retried');
      assert.equal(entry.earlierAttempts.length, 1);
      const [first] = entry.earlierAttempts;
      assert.equal(first.backend, `127.0.0.1:${dead}`);
      assert.equal(first.outcome, 'connect_error');
      assert.ok(first.pick >= entry.phases.head && first.done <= entry.phases.pick, 'the failed try ends before the retry picks');

      const svg = await openWaterfall(id);
      assert.equal(await svg.locator('[data-attempt]').count(), 2);
      const one = await span(svg, '[data-phase=attempt][data-attempt="1"] .wf-bar');
      const two = await span(svg, '[data-phase=upstream][data-attempt="2"] .wf-bar');
      assert.ok(one.to <= two.from + 1e-9, 'attempt 1 before attempt 2');
      assert.match(await svg.locator('[data-attempt="1"] .wf-label').textContent() ?? '', new RegExp(`attempt 1: 127\\.0\\.0\\.1:${dead} → connect_error`));
      assert.match(await svg.locator('[data-attempt="2"] .wf-label').textContent() ?? '', new RegExp(`upstream ${origins.h1.replace(/\./g, '\\.')} \\(attempt 2\\)`));

      // the retry's pick: the refused backend already tried, the other one usable and chosen
      assert.ok(entry.pick, 'the pick was recorded');
      assert.equal(entry.pick.policy, 'round_robin');
      assert.deepEqual(
        entry.pick.candidates.map((c) => [c.backend, c.state, c.chosen, c.weight]),
        [
          [`127.0.0.1:${dead}`, 'tried', false, 1],
          [origins.h1, 'usable', true, 1],
        ],
      );
      const pickRow = svg.locator('[data-phase=pick]');
      assert.equal(await pickRow.locator('.wf-label').first().evaluate((el) => el.firstChild?.textContent), `pick: round_robin, 1/2 usable → ${origins.h1}`);
      const tip = (await pickRow.locator('.wf-bar title').textContent()) ?? '';
      assert.match(tip, new RegExp(`→ ${origins.h1.replace(/\./g, '\\.')} usable, \\d+ in flight, weight 1`));
      assert.match(tip, new RegExp(`127\\.0\\.0\\.1:${dead} tried, \\d+ in flight, weight 1`));
      const table = page.locator('#pick-candidates');
      assert.deepEqual(await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-backend'), tr.getAttribute('data-state'), tr.classList.contains('chosen')])), [
        [`127.0.0.1:${dead}`, 'tried', false],
        [origins.h1, 'usable', true],
      ]);

      // the waterfall as docs/waterfall.png shows it: a new TLS connection's HTTP/2 request, two filters, a retry
      if (client.tag === 'h2') {
        const shot = path.join(shots, 'waterfall.png');
        await page.locator('#waterfall').screenshot({ path: shot });
        assert.ok(existsSync(shot));
        if (process.env.UPDATE_DASHBOARD_SCREENSHOT === '1') await copyFile(shot, path.join(projectRoot, 'docs', 'waterfall.png'));
      }
    });

    it(`${client.name}: an h2c pool's Server-Timing (app, db) is drawn inside the upstream bar`, async () => {
      const id = `wf-h2pool-${client.tag}`;
      const reply = await send(client.flags, `${client.tag === 'h2' ? secure : web}/h2pool/x`, id);
      assert.equal(reply.body, 'h2 ok\n');
      const entry = await recentEventually(id);
      assert.match(entry.serverTiming, /app;dur=30, db;dur=12/);
      assert.ok(entry.phases.pick >= 0 && entry.phases.firstByte >= entry.phases.pick + 30, `the pick, then 30 ms to the first byte (${JSON.stringify(entry.phases)})`);

      const svg = await openWaterfall(id);
      const upstream = await span(svg, '[data-phase=upstream] .wf-bar');
      const app = await span(svg, '[data-phase=upstream] [data-timing=app]');
      const db = await span(svg, '[data-phase=upstream] [data-timing=db]');
      assert.ok(inside(app, upstream) && inside(db, upstream), 'app and db are inside the upstream bar');
      assert.ok(inside(db, app), 'db inside app');
      assert.ok(Math.abs(app.to - app.from - 30) < 0.5 && Math.abs(db.to - db.from - 12) < 0.5, 'app 30 ms, db 12 ms, as the origin said');
    });

    it(`${client.name}: a retried request to an h2c pool shows both attempts, the origin's Server-Timing in the second`, async () => {
      let entry: Recent | undefined;
      let id = '';
      for (let i = 0; i < 8 && entry === undefined; i++) {
        id = `wf-h2retry-${client.tag}-${i}`;
        await send(client.flags, `${client.tag === 'h2' ? secure : web}/h2flaky/${i}`, id);
        const found = await recentEventually(id);
        if (found.attempts === 2) entry = found;
      }
      assert.ok(entry, 'no request was retried');
      assert.deepEqual(
        entry.earlierAttempts.map((a) => [a.backend, a.outcome]),
        [[`127.0.0.1:${dead}`, 'connect_error']],
      );
      assert.ok(entry.earlierAttempts[0].done <= entry.phases.pick, 'the failed try ends before the retry picks');
      assert.deepEqual(
        entry.pick?.candidates.map((c) => [c.backend, c.state, c.chosen]),
        [
          [`127.0.0.1:${dead}`, 'tried', false],
          [origins.h2, 'usable', true],
        ],
        'an h2c pool records its pick too',
      );
      const svg = await openWaterfall(id);
      assert.equal(await svg.locator('[data-attempt]').count(), 2);
      const upstream = await span(svg, '[data-phase=upstream][data-attempt="2"] .wf-bar');
      assert.ok(inside(await span(svg, '[data-phase=upstream] [data-timing=app]'), upstream), 'app inside the second attempt');
    });
  }
});
