// The forward_auth filter end to end: an auth service in the test decides by the request's fields; curl on
// every downstream to an HTTP/1.1 and an h2c pool. Allowed requests reach the origin with the copied
// fields (never the client's own of those names); refusals come back with the auth service's status,
// fields and body; an auth service that is down or slow gives 503, and the recording origins prove that
// nothing refused or undecided reached an upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { refusedPort } from '../../support/origins.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curl, downstreams, filterEdgeConfig, pools, startRecordingOrigins, urlOf, type RecordingOrigins } from '../../support/filter-e2e.ts';

describe('forward_auth filter end to end', { timeout: 120_000 }, () => {
  let origins: RecordingOrigins;
  let edge: RunningSwitchyard;
  let down: RunningSwitchyard;
  const asked: http.IncomingHttpHeaders[] = [];
  const held: http.ServerResponse[] = [];
  const auth = http.createServer((req, res) => {
    asked.push(req.headers);
    const authorization = req.headers.authorization;
    if (authorization === 'Bearer let-me-in') {
      res.writeHead(200, { 'x-user': 'ada', 'x-roles': 'admin,ops', 'x-not-copied': 'no' });
      res.end();
    } else if (authorization === 'Bearer hold') {
      held.push(res);
    } else if (authorization !== undefined) {
      res.writeHead(403, { 'content-type': 'application/json', 'x-internal': 'hidden' });
      res.end('{"error":"forbidden","reason":"bad token"}');
    } else {
      res.writeHead(302, { location: `https://login.test/?rd=${encodeURIComponent(String(req.headers['x-forwarded-uri']))}`, 'set-cookie': 'state=abc; HttpOnly' });
      res.end();
    }
  });

  before(async () => {
    await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
    origins = await startRecordingOrigins();
    const url = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/auth?svc=orders`;
    edge = await runSwitchyard(filterEdgeConfig(origins, [{ forward_auth: { url, copy_headers: ['x-user', 'x-roles'], timeout: '1s' } }]));
    down = await runSwitchyard(filterEdgeConfig(origins, [{ forward_auth: { url: `http://127.0.0.1:${await refusedPort()}/auth` } }]));
  });

  after(async () => {
    await edge?.stop();
    await down?.stop();
    await origins?.close();
    for (const res of held) res.destroy();
    auth.closeAllConnections();
    await new Promise<void>((resolve) => auth.close(() => resolve()));
  });

  it('an allowed request reaches the origin with the copied fields on every protocol pair; the auth service saw X-Forwarded-*', async () => {
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const url = urlOf(edge.url, downstream, `/${pool}/orders?page=2`);
        const reply = await curl(downstream.flags, url, ['authorization: Bearer let-me-in', 'x-user: mallory', 'x-roles: root']);
        assert.equal(reply.status, 200, `${downstream.client} → ${pool}: ${reply.body}`);
        const seen = origins.seen.at(-1)!;
        assert.equal(seen.pool, pool);
        assert.equal(seen.headers['x-user'], 'ada', `${downstream.client} → ${pool}`);
        assert.equal(seen.headers['x-roles'], 'admin,ops');
        assert.equal(seen.headers['x-not-copied'], undefined);
        assert.equal(seen.headers.authorization, 'Bearer let-me-in', 'the request itself is unchanged');
        const sent = asked.at(-1)!;
        assert.equal(sent['x-forwarded-method'], 'GET');
        assert.equal(sent['x-forwarded-uri'], `/${pool}/orders?page=2`);
        assert.equal(sent['x-forwarded-host'], new URL(url).host);
        assert.equal(sent['x-forwarded-for'], '127.0.0.1');
        assert.equal(sent['x-forwarded-proto'], downstream.scheme);
        assert.equal(sent.authorization, 'Bearer let-me-in');
      }
    }
  });

  it('refusals come back with the service status, chosen fields and body; nothing reaches an origin', async () => {
    const before = origins.seen.length;
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const denied = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/orders`), ['authorization: Bearer wrong']);
        assert.equal(denied.status, 403, `${downstream.client} → ${pool}`);
        assert.equal(denied.body, '{"error":"forbidden","reason":"bad token"}');
        assert.equal(denied.headers['content-type'], 'application/json');
        assert.equal(denied.headers['x-internal'], undefined);
        const redirected = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/orders?x=1`));
        assert.equal(redirected.status, 302, `${downstream.client} → ${pool}`);
        assert.equal(redirected.headers.location, `https://login.test/?rd=${encodeURIComponent(`/${pool}/orders?x=1`)}`);
        assert.equal(redirected.headers['set-cookie'], 'state=abc; HttpOnly');
      }
    }
    assert.equal(origins.seen.length, before);
    assert.equal((await edge.waitForLine((line) => line.log === 'access' && line.reason === 'forward_auth:denied' && line.status === 302)).status, 302);
  });

  it('an auth service that does not answer in time gives 503, and the request goes nowhere', async () => {
    const before = origins.seen.length;
    const reply = await curl(['--http2-prior-knowledge'], edge.url('codec', '/h2/orders'), ['authorization: Bearer hold']);
    assert.equal(reply.status, 503);
    assert.match(reply.body, /did not answer in time/);
    assert.equal(origins.seen.length, before);
  });

  it('an auth service that is down gives 503 on every protocol pair, and the origin sees nothing', async () => {
    const before = origins.seen.length;
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const reply = await curl(downstream.flags, urlOf(down.url, downstream, `/${pool}/orders`), ['authorization: Bearer let-me-in']);
        assert.equal(reply.status, 503, `${downstream.client} → ${pool}`);
        assert.match(reply.body, /unreachable/);
      }
    }
    assert.equal(origins.seen.length, before);
    await down.waitForLine((line) => line.msg === 'forward_auth: auth service unavailable');
    await down.waitForLine((line) => line.log === 'access' && line.status === 503 && line.reason === 'forward_auth:unreachable');
  });
});
