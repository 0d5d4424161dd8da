// The demo page in a real browser (playwright-core driving Debian's chromium): it loads, logs in through
// the API on another origin (CORS with credentials), creates an order, sees it listed, and shows which
// instance answered and the client address the application saw.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot, startApp, type AppProcess } from './helpers/app-process.ts';
import { serveStatic } from './helpers/static-server.ts';

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));

describe('demo page in chromium', { timeout: 60_000 }, () => {
  let dataDir: string;
  let app: AppProcess | undefined;
  let site: { url: string; close(): Promise<void> } | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-page-'));
    site = await serveStatic(path.join(projectRoot, 'demo', 'public'));
    app = await startApp({ service: 'all', instance: 'page-1', dataDir, env: { DATABASE_URL: '' }, args: ['--cors-origins', site.url] });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.goto(`${site.url}/?api=${encodeURIComponent(app.url().replace(/\/$/, ''))}`);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    await site?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists the seed users and orders without logging in', async () => {
    await page.locator('#user-rows tr', { hasText: 'alice' }).waitFor({ timeout: 10_000 });
    await page.locator('#order-rows tr', { hasText: 'patch cable' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#whoami').isHidden(), true);
  });

  it('logs in, creates an order and sees it listed, with the instance and client address shown', async () => {
    await page.fill('#login-form [name=username]', 'demo');
    await page.fill('#login-form [name=password]', 'demo');
    await page.click('#login-form button[type=submit]');
    await page.locator('#whoami-name', { hasText: 'demo' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#login-form').isHidden(), true);

    await page.fill('#order-form [name=item]', 'browser-made widget');
    await page.fill('#order-form [name=quantity]', '3');
    await page.click('#order-form button[type=submit]');
    const row = page.locator('#order-rows tr', { hasText: 'browser-made widget' });
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /3\s+pending\s+demo/);

    const created = page.locator('#call-rows tr', { hasText: 'POST /api/orders' });
    assert.match(await created.first().innerText(), /201\s+page-1\s+127\.0\.0\.1\s+db;dur=/);
    assert.match(await page.locator('#instance-tally').innerText(), /page-1 ×\d+/);
  });

  it('keeps the session in the cookie across a reload and deletes an own order', async () => {
    await page.reload();
    await page.locator('#whoami-name', { hasText: 'demo' }).waitFor({ timeout: 10_000 });
    const row = page.locator('#order-rows tr', { hasText: 'browser-made widget' });
    await row.locator('button', { hasText: 'Delete' }).click();
    await row.waitFor({ state: 'detached', timeout: 10_000 });
    assert.match(await page.locator('#call-rows tr', { hasText: 'DELETE /api/orders/' }).first().innerText(), /204/);
  });
});
