// The demo page's call log links each call to its waterfall in the dashboard, in a real browser
// (playwright-core driving Debian's chromium) against a real `switchyard start`: the edge serves the page
// and proxies the API to the demo application, naming each request (X-Request-Id) and the dashboard
// (X-Switchyard-Dashboard) as demo/switchyard.yaml does; the link, followed, asks for the admin token and
// then shows that request's waterfall (the fragment survives the sign-in).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { projectRoot, startApp, type AppProcess } from './helpers/app-process.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const config = (appAddress: string, dashboard: string): string => `
log: { access_log: "off" }
admin: { listen: 127.0.0.1:0 }
pools:
  app:
    backends: [ { address: ${appAddress} } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: /api/ }
        pool: app
        middleware:
          - headers: { response: { set: { x-request-id: "{request_id}", x-switchyard-dashboard: "${dashboard}" } } }
      - { match: { path_prefix: / }, static: { root: ${JSON.stringify(path.join(projectRoot, 'demo', 'public'))} } }
`;

describe('demo page call log → dashboard waterfall', { timeout: 60_000 }, () => {
  let dataDir: string;
  let app: AppProcess | undefined;
  let sy: RunningSwitchyard | undefined;
  let browser: Browser | undefined;

  before(async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-waterfall-'));
    app = await startApp({ service: 'all', instance: 'link-1', dataDir, env: { DATABASE_URL: '' } });
    const appAddress = `127.0.0.1:${app.port}`;
    // the admin port is known once it listens (port 0): write it into the headers value and reload
    sy = await runSwitchyard(config(appAddress, 'http://127.0.0.1:1/dashboard'));
    await writeFile(sy.configFile, config(appAddress, sy.ready.dashboard!));
    const token = (await readFile(path.join(sy.dir, 'data', 'admin.token'), 'utf8')).trim();
    const reload = await fetch(`${sy.ready.dashboard!.replace(/\/dashboard$/, '')}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(reload.status, 200, await reload.text());
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  });

  after(async () => {
    await browser?.close();
    await sy?.stop();
    await app?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('links a call to the dashboard, which opens that request’s waterfall after the sign-in', async () => {
    const context = await browser!.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    await page.goto(sy!.url('web', '/'));
    const row = page.locator('#call-rows tr', { hasText: 'GET /api/users' }).first();
    await row.waitFor({ timeout: 10_000 });
    const link = row.locator('a.waterfall-link');
    const href = (await link.getAttribute('href'))!;
    const match = /^(.*)#request=(.+)$/.exec(href);
    assert.ok(match, `a waterfall link, got ${href}`);
    assert.equal(match[1], sy!.ready.dashboard);
    const requestId = decodeURIComponent(match[2]);

    const [dashboard] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await dashboard.waitForSelector('#login-form');
    await dashboard.fill('#login-form [name=token]', (await readFile(path.join(sy!.dir, 'data', 'admin.token'), 'utf8')).trim());
    await dashboard.click('#login-form button[type=submit]');
    const heading = dashboard.locator('#waterfall h3');
    await heading.waitFor({ timeout: 10_000 });
    assert.match(await heading.innerText(), /^GET 127\.0\.0\.1:\d+\/api\/users → 200/);
    assert.equal(new URL(dashboard.url()).hash, `#request=${encodeURIComponent(requestId)}`);
    // the request the dashboard shows is the one the page made: the server answers by that id only
    const shown = await dashboard.evaluate(async (id) => (await (await fetch(`/api/requests?request_id=${encodeURIComponent(id)}`)).json()) as { id: string }[], requestId);
    assert.deepEqual(shown.map((r) => r.id), [requestId]);
    await context.close();
  });
});
