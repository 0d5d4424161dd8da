// The client address the app reports (X-Client-Address): X-Forwarded-For counts only when the TCP peer is
// a trusted edge, and only back to the first untrusted hop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type AppProcess } from './helpers/app-process.ts';
import { call } from './helpers/http.ts';

describe('demo app: client address from X-Forwarded-For', { timeout: 30_000 }, () => {
  let dataDir: string;
  let trusting: AppProcess;
  let distrusting: AppProcess;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'demo-xff-'));
    const env = { DATABASE_URL: '' };
    // The test connects from loopback: the first app trusts it (the default), the second trusts only 10/8.
    [trusting, distrusting] = await Promise.all([
      startApp({ service: 'users', instance: 'trusting', dataDir: path.join(dataDir, 'a'), env }),
      startApp({ service: 'users', instance: 'distrusting', dataDir: path.join(dataDir, 'b'), env, args: ['--trusted-proxies', '10.0.0.0/8'] }),
    ]);
  });

  after(async () => {
    await Promise.all([trusting?.stop(), distrusting?.stop()]);
    await rm(dataDir, { recursive: true, force: true });
  });

  const seen = async (app: AppProcess, forwardedFor?: string): Promise<string | null> => {
    const response = await call(app.url(), 'GET', '/api/users?limit=1', { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } });
    assert.equal(response.status, 200);
    return response.headers.get('x-client-address');
  };

  it('believes the header when the peer is a trusted edge', async () => {
    assert.equal(await seen(trusting), '127.0.0.1');
    assert.equal(await seen(trusting, '203.0.113.7'), '203.0.113.7');
    assert.equal(await seen(trusting, '2001:db8::7'), '2001:db8::7');
  });

  it('stops at the first untrusted hop from the right: a client cannot forge what is left of it', async () => {
    assert.equal(await seen(trusting, '198.51.100.1, 203.0.113.7'), '203.0.113.7');
    // Trusted hops (another local proxy) are skipped.
    assert.equal(await seen(trusting, '198.51.100.1, 127.0.0.9'), '198.51.100.1');
  });

  it('keeps the last address it could vouch for when an entry is malformed', async () => {
    assert.equal(await seen(trusting, 'not-an-address'), '127.0.0.1');
    assert.equal(await seen(trusting, 'junk, 203.0.113.7'), '203.0.113.7');
  });

  it('ignores the header when the peer is not trusted', async () => {
    assert.equal(await seen(distrusting, '203.0.113.7'), '127.0.0.1');
    assert.equal(await seen(distrusting, '10.1.2.3'), '127.0.0.1');
  });
});
