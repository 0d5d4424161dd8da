// The demo stack end to end, from demo/switchyard.yaml itself (ports moved to 0, backends to the test's
// instances): DNS answers, the edge over HTTPS with the local CA (curl), the HTTP → HTTPS redirect, and
// the page in chromium through the edge: log in, create an order, see it listed, both orders instances
// answering, and the page still working after one orders instance is killed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { projectRoot, startApp, type AppProcess } from './helpers/app-process.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

const run = promisify(execFile);
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));

/** demo/switchyard.yaml with every address the test cannot own replaced: listeners on port 0, pools on the test's instances. */
async function stackConfig(dataDir: string, apps: Record<string, AppProcess[]>, appDataDir: string, webPort: number, pagePort: number): Promise<string> {
  // the page's origin (the edge's CORS policy) on the test's port; the services' token secret in their data dir
  const text = (await readFile(path.join(projectRoot, 'demo', 'switchyard.yaml'), 'utf8'))
    .replaceAll('https://example.test:8443', `https://example.test:${webPort}`)
    .replace('secret_file: ../data/jwt.secret', `secret_file: ${JSON.stringify(path.join(appDataDir, 'jwt.secret'))}`);
  const doc = parseDocument(text);
  doc.set('data_dir', dataDir);
  // the demo's access log path is relative to demo/: on stdout here, not outside the test's directories
  doc.setIn(['log', 'access_log'], 'stdout');
  doc.setIn(['admin', 'listen'], '127.0.0.1:0');
  doc.setIn(['dns', 'listen'], ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0']);
  doc.setIn(['pools', 'page', 'backends'], [{ address: `127.0.0.1:${pagePort}` }]);
  for (const [pool, instances] of Object.entries(apps)) {
    doc.setIn(['pools', pool, 'backends'], instances.map((app) => ({ address: `127.0.0.1:${app.port}` })));
    // Faster than the demo's 2s so the test sees a killed instance leave within a second.
    doc.setIn(['pools', pool, 'health', 'interval'], '300ms');
    doc.setIn(['pools', pool, 'health', 'rise'], 1);
    doc.setIn(['pools', pool, 'health', 'fall'], 1);
  }
  const listeners = doc.get('listeners') as { items: { set(key: string, value: unknown): void; getIn(path: string[]): unknown; setIn(path: (string | number)[], value: unknown): void }[] };
  for (const listener of listeners.items) {
    const name = listener.getIn(['name']);
    listener.set('listen', `127.0.0.1:${name === 'web' ? webPort : name === 'page-origin' ? pagePort : 0}`);
    const routes = listener.getIn(['routes']) as { items: { hasIn(path: string[]): boolean; setIn(path: string[], value: unknown): void }[] };
    for (const route of routes.items) {
      if (route.hasIn(['static', 'root'])) route.setIn(['static', 'root'], path.join(projectRoot, 'demo', 'public'));
    }
  }
  return doc.toString();
}

describe('demo stack behind Switchyard', { timeout: 90_000 }, () => {
  let dataDir: string;
  const apps: Record<string, AppProcess[]> = { users: [], orders: [] };
  let edge: RunningSwitchyard | undefined;
  let web: { host: string; port: number };
  let ca: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-stack-'));
    const env = { DATABASE_URL: '' };
    const started = await Promise.all(
      ['users', 'users', 'orders', 'orders'].map((service, index) =>
        startApp({ service: service as 'users' | 'orders', instance: `${service}-${(index % 2) + 1}`, dataDir, env, args: ['--cors-origins', 'https://example.test:*'] }),
      ),
    );
    apps.users = started.slice(0, 2);
    apps.orders = started.slice(2);
    edge = await retryOnAddressInUse(async () => runSwitchyard(await stackConfig(path.join(dataDir, 'edge'), apps, dataDir, await lastFreePort(), await lastFreePort())));
    web = edge.ready.listeners.web;
    ca = path.join(dataDir, 'edge', 'tls', 'ca', 'ca.pem');
  });

  after(async () => {
    await edge?.stop();
    await Promise.all([...apps.users, ...apps.orders].map((app) => app.stop()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('dig: the example.test zone answers A, AAAA, CNAME to the balancer name, MX and TXT', async () => {
    const dns = edge!.ready.dns!.find((item) => item.transport === 'udp')!;
    const dig = async (name: string, type: string) =>
      (await run('dig', [`@${dns.host}`, '-p', String(dns.port), '+short', '+time=2', '+tries=1', name, type])).stdout.trim().split('\n').filter(Boolean);
    assert.deepEqual(await dig('example.test', 'A'), ['127.0.0.1']);
    assert.deepEqual(await dig('example.test', 'AAAA'), ['::1']);
    const api = await dig('api.example.test', 'A');
    assert.equal(api[0], 'lb.example.test.');
    assert.ok(api.slice(1).every((address) => address === '127.0.0.1') && api.length > 1, api.join(' '));
    assert.deepEqual((await dig('example.test', 'MX')).sort(), ['10 mail1.example.test.', '20 mail2.example.test.']);
    assert.deepEqual(await dig('example.test', 'TXT'), ['"v=spf1 mx -all"']);
  });

  it('curl: the API over HTTPS, verified with the local CA, balanced over both users instances', async () => {
    const seen = new Set<string>();
    for (let attempt = 0; attempt < 4; attempt++) {
      const { stdout } = await run('curl', [
        '-sS', '-D', '-', '--cacert', ca, '--resolve', `api.example.test:${web.port}:127.0.0.1`, `https://api.example.test:${web.port}/api/users`,
      ]);
      assert.match(stdout, /^HTTP\/[\d.]+ 200/);
      assert.match(stdout, /"username":"demo"/);
      seen.add(/^x-instance: (\S+)/im.exec(stdout)?.[1] ?? '');
    }
    assert.deepEqual([...seen].sort(), ['users-1', 'users-2']);
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const plain = edge!.ready.listeners['http-redirect'];
    const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `example.test:${plain.port}:127.0.0.1`, `http://example.test:${plain.port}/api/users`]);
    assert.equal(stdout, '308 https://example.test:8443/api/users');
  });

  describe('the page in chromium', () => {
    let browser: Browser | undefined;
    let page: Page;

    before(async () => {
      assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
      browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--host-resolver-rules=MAP example.test 127.0.0.1, MAP api.example.test 127.0.0.1'],
      });
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      page = await context.newPage();
    });

    after(async () => {
      await browser?.close();
    });

    const createOrder = async (item: string): Promise<void> => {
      await page.fill('#order-form [name=item]', item);
      await page.click('#order-form button[type=submit]');
      await page.locator('#order-rows tr', { hasText: item }).waitFor({ timeout: 10_000 });
    };

    it('serves the page with Cache-Control and ETag, logs in, creates an order and sees it listed', async () => {
      const response = await page.goto(`https://example.test:${web.port}/`);
      assert.equal(response?.status(), 200);
      assert.match(response?.headers()['cache-control'] ?? '', /max-age=300/);
      assert.ok(response?.headers().etag, 'the static route sends an ETag');
      await page.locator('#user-rows tr', { hasText: 'alice' }).waitFor({ timeout: 10_000 });
      await page.click('#login-form button[type=submit]'); // demo / demo are prefilled
      await page.locator('#whoami-name', { hasText: 'demo' }).waitFor({ timeout: 10_000 });
      await createOrder('order through the edge');
    });

    it('shows both orders instances answering', async () => {
      for (let round = 0; round < 6 && !/orders-1.*orders-2/.test(await page.locator('#instance-tally').innerText()); round++) {
        await page.click('[data-refresh=orders]');
        await page.locator('#call-rows tr', { hasText: 'GET /api/orders' }).first().waitFor();
      }
      assert.match(await page.locator('#instance-tally').innerText(), /orders-1 ×\d+, orders-2 ×\d+/);
    });

    it('serves the same page by address (https://127.0.0.1:PORT/), calling the API on its own origin', async () => {
      const context = await browser!.newContext({ ignoreHTTPSErrors: true });
      try {
        const byAddress = await context.newPage();
        const calls: string[] = [];
        byAddress.on('request', (request) => calls.push(request.url()));
        const response = await byAddress.goto(`https://127.0.0.1:${web.port}/`);
        assert.equal(response?.status(), 200);
        await byAddress.click('#login-form button[type=submit]');
        await byAddress.locator('#whoami-name', { hasText: 'demo' }).waitFor({ timeout: 10_000 });
        await byAddress.locator('#order-rows tr').first().waitFor({ timeout: 10_000 });
        const api = calls.filter((url) => url.includes('/api/'));
        assert.ok(api.length > 0 && api.every((url) => url.startsWith(`https://127.0.0.1:${web.port}/api/`)), api.join(' '));
      } finally {
        await context.close();
      }
    });

    it('keeps working after one orders instance is killed', async () => {
      apps.orders[0].child.kill('SIGKILL');
      await edge!.waitForLine((line) => line.msg === 'backend down' && line.pool === 'orders', 10_000);
      const before = await page.locator('#call-rows tr', { hasText: 'orders-2' }).count();
      await createOrder('order after a failure');
      await page.click('[data-refresh=orders]');
      await page.locator('#order-rows tr', { hasText: 'order after a failure' }).waitFor();
      assert.ok((await page.locator('#call-rows tr', { hasText: 'orders-2' }).count()) > before);
      assert.equal(await page.locator('#message.error').count(), 0, await page.locator('#message').innerText());
    });
  });

  describe('the edge middleware of the demo config', () => {
    const api = (rest: string): string => `https://api.example.test:${web.port}${rest}`;
    const curl = async (args: string[]): Promise<{ status: number; head: string; body: string }> => {
      const { stdout } = await run('curl', ['-sS', '-D', '-', '--cacert', ca, '--resolve', `api.example.test:${web.port}:127.0.0.1`, ...args]);
      const split = stdout.indexOf('\r\n\r\n');
      return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(stdout)?.[1]), head: stdout.slice(0, split), body: stdout.slice(split + 4) };
    };

    it('answers a CORS preflight at the edge for the page origin only', async () => {
      const origin = `https://example.test:${web.port}`;
      const allowed = await curl(['-X', 'OPTIONS', '-H', `origin: ${origin}`, '-H', 'access-control-request-method: POST', '-H', 'access-control-request-headers: content-type', api('/api/orders')]);
      assert.equal(allowed.status, 204);
      assert.match(allowed.head, new RegExp(`access-control-allow-origin: ${origin}`, 'i'));
      assert.match(allowed.head, /access-control-allow-credentials: true/i);
      await edge!.waitForLine((line) => line.log === 'access' && line.reason === 'cors:preflight' && line.backend === undefined);
      const other = await curl(['-X', 'OPTIONS', '-H', 'origin: https://evil.test', '-H', 'access-control-request-method: POST', api('/api/orders')]);
      assert.equal(other.status, 403);
      // an actual request from another origin: the services' own CORS fields do not leak past the edge
      const read = await curl(['-H', 'origin: https://evil.test', api('/api/users')]);
      assert.equal(read.status, 200);
      assert.doesNotMatch(read.head, /access-control-allow-origin/i);
    });

    // over HTTP/1.1: on the HTTP/2 codec engine a refused request with a body is sometimes reset instead of
    // answered (reported to the lead, /work/briefs/requests-demo.md)
    it('refuses a write with a forged token at the edge (401), before any service sees it', async () => {
      const [header, payload] = ['{"alg":"HS256","typ":"JWT"}', '{"sub":"1","name":"demo","iss":"switchyard-demo","aud":"switchyard-demo","exp":9999999999}'].map((part) => Buffer.from(part).toString('base64url'));
      const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
      for (const token of [forged, none]) {
        const reply = await curl(['--http1.1', '-X', 'POST', '-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json', '--data', '{"item":"forged","quantity":1}', api('/api/orders')]);
        assert.equal(reply.status, 401, reply.body);
        assert.match(reply.head, /www-authenticate: Bearer realm="switchyard-demo"/i);
      }
      const forgedLine = (line: Record<string, unknown>) => line.log === 'access' && line.status === 401 && String(line.reason).startsWith('jwt:');
      // access lines reach stdout in batches (at most 100 ms late): wait for both
      await edge!.waitForLine(() => edge!.lines.filter(forgedLine).length >= 2);
      const refused = edge!.lines.filter(forgedLine);
      assert.equal(refused.length, 2);
      assert.ok(refused.every((line) => line.backend === undefined), 'no backend was asked');
      const cookie = await curl(['--http1.1', '-X', 'POST', '-H', 'cookie: sy_session=forged.token.here', '-H', 'content-type: application/json', '--data', '{"item":"x","quantity":1}', api('/api/orders')]);
      assert.equal(cookie.status, 401);
    });

    it('compresses for a client that accepts it, and not for one that does not', async () => {
      const gzip = await curl(['-H', 'accept-encoding: gzip', '-o', '/dev/null', api('/api/users?limit=100')]);
      assert.equal(gzip.status, 200);
      assert.match(gzip.head, /content-encoding: gzip/i);
      assert.match(gzip.head, /vary: .*accept-encoding/i);
      const plain = await curl([api('/api/users?limit=100')]);
      assert.doesNotMatch(plain.head, /content-encoding/i);
      assert.match(plain.body, /"username":"demo"/);
    });

    it('caches the page at the edge: the second request is a Cache-Status hit; a miss is compressed for a client that accepts it', async () => {
      const page = (rest: string, fields: string[] = []) => curl(['--resolve', `example.test:${web.port}:127.0.0.1`, ...fields.flatMap((field) => ['-H', field]), `https://example.test:${web.port}${rest}`]);
      const first = await page('/app.js?first');
      assert.equal(first.status, 200);
      assert.match(first.head, /cache-status: switchyard; fwd=uri-miss; fwd-status=200; stored/i);
      const second = await page('/app.js?first');
      assert.equal(second.status, 200);
      assert.match(second.head, /cache-status: switchyard; hit/i);
      assert.equal(second.body, first.body);
      // a miss goes out compressed for a client that accepts it (hits send the stored identity body)
      const zipped = await page('/style.css?zipped', ['accept-encoding: br']);
      assert.match(zipped.head, /cache-status: switchyard; fwd=uri-miss/i);
      assert.match(zipped.head, /content-encoding: br/i);
      assert.match(zipped.head, /cache-control: public, max-age=300/i);
    });

    it('limits logins per client address at the edge: a flood gets 429 with RateLimit fields', async () => {
      let limited: { status: number; head: string } | undefined;
      for (let attempt = 0; attempt < 15 && limited === undefined; attempt++) {
        const reply = await curl(['-X', 'POST', '-H', 'content-type: application/json', '--data', '{"username":"demo","password":"wrong"}', api('/api/login')]);
        if (reply.status === 429) limited = reply;
        else assert.equal(reply.status, 401, reply.body);
      }
      assert.ok(limited, 'no 429 within 15 logins');
      assert.match(limited.head, /retry-after: \d+/i);
      assert.match(limited.head, /ratelimit-policy: /i);
      assert.match(limited.head, /\nratelimit: /i);
      await edge!.waitForLine((line) => line.log === 'access' && line.status === 429 && line.backend === undefined);
    });
  });
});
