// Retries (pool `retries:`): which failures go to another backend, for which methods and bodies, the
// budget that bounds them, and the access-log fields that show them. Real origins on loopback: one that
// resets every connection after reading a request, one that answers a fixed status, silent ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startProxy, rawExchange, headerOf, startResettingOrigin, listenCounting, type CountingOrigin, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startSilentOrigin, refusedPort } from '../../support/origins.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});
function defer<T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(thing: T): T {
  cleanups.push(() => (thing.stop ?? thing.close)!.call(thing));
  return thing;
}

/** Answers every request with `status` and `x-origin: name`. */
async function startStatusOrigin(status: number, name: string): Promise<CountingOrigin> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(status, { 'x-origin': name, 'content-length': 2 }).end('ok'));
  });
  return listenCounting(server, () => requests, () => server.closeAllConnections());
}

function request(proxy: TestProxy, method: string, path: string, body = ''): Promise<{ status: number; head: string; body: string }> {
  const text = `${method} ${path} HTTP/1.1\r\nhost: a\r\n${body.length > 0 || method === 'POST' || method === 'PUT' ? `content-length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;
  return rawExchange(proxy.port, text, { responses: 1, timeoutMs: 5000 }).then((result) => {
    assert.equal(result.responses.length, 1, result.text);
    return result.responses[0];
  });
}

// round robin starts at the first backend: the failing one is listed first so the first try meets it
const route = { routes: [{ match: { path_prefix: '/' }, pool: 'app' }] };

test('a GET reset before any response byte goes to another backend; the access log shows the tries', async () => {
  const bad = defer(await startResettingOrigin());
  const good = defer(await startEchoOrigin({ name: 'good' }));
  const proxy = defer(await startProxy(route, { app: { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['connect_error', 'reset'] } } }));
  const response = await request(proxy, 'GET', '/x');
  assert.equal(response.status, 200);
  assert.equal(headerOf(response.head, 'x-origin'), 'good');
  assert.equal(bad.requests(), 1);
  const line = proxy.accessLog.at(-1)!;
  assert.equal(line.attempts, 2);
  assert.deepEqual(line.tried, [bad.address]);
  assert.equal(line.backend, good.address);
});

test('a POST is never replayed once sent (502), but a POST whose connect failed is retried', async () => {
  const bad = defer(await startResettingOrigin());
  const good = defer(await startEchoOrigin({ name: 'good' }));
  const refused = await refusedPort();
  const retries = { attempts: 2, on: ['connect_error', 'reset'] };
  const sent = defer(await startProxy(route, { app: { backends: [{ address: bad.address }, { address: good.address }], retries } }));
  const response = await request(sent, 'POST', '/order', 'item=1');
  assert.equal(response.status, 502);
  assert.equal(bad.requests(), 1);
  assert.equal(good.requests(), 0, 'the POST never reached a second backend');

  const unsent = defer(await startProxy(route, { app: { backends: [{ address: `127.0.0.1:${refused}` }, { address: good.address }], retries } }));
  const retried = await request(unsent, 'POST', '/order', 'item=1');
  assert.equal(retried.status, 200);
  assert.equal(JSON.parse(retried.body).bodyLength, 6);
  assert.equal(unsent.accessLog.at(-1)!.attempts, 2);
});

test('a PUT with a small body is resent whole; one over 64 KB is too when buffered, and not when streamed', async () => {
  const bad = defer(await startResettingOrigin());
  const good = defer(await startEchoOrigin({ name: 'good' }));
  const proxy = defer(await startProxy(route, { app: { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['reset'] } } }));
  const small = 'y'.repeat(20_000);
  const response = await request(proxy, 'PUT', '/doc', small);
  assert.equal(response.status, 200);
  const echoed = JSON.parse(response.body) as { bodyLength: number; bodySha256: string };
  assert.equal(echoed.bodyLength, small.length);
  assert.equal(echoed.bodySha256, createHash('sha256').update(small).digest('hex'));


  // a fresh proxy: round robin's first pick is the resetting backend again; a buffered body is kept whole
  const buffered = defer(await startProxy(route, { app: { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['reset'] } } }));
  const big = 'w'.repeat(200_000);
  const resent = await request(buffered, 'PUT', '/doc', big);
  assert.equal(resent.status, 200);
  assert.equal((JSON.parse(resent.body) as { bodySha256: string }).bodySha256, createHash('sha256').update(big).digest('hex'));

  // streamed (request_buffering off): a body over 64 KB is not kept, so it is not resent
  const fresh = defer(await startProxy({ ...route, request_buffering: { enabled: false } }, { app: { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['reset'] } } }));
  const before = good.requests();
  const large = await request(fresh, 'PUT', '/doc', 'z'.repeat(70_000));
  assert.equal(large.status, 502);
  assert.equal(good.requests(), before, 'a body over 64 KB is not kept, so it is not resent');
});

test('502/503/504 listed in `on` are retried (the response is discarded); otherwise relayed', async () => {
  const unavailable = defer(await startStatusOrigin(503, 'busy'));
  const good = defer(await startStatusOrigin(200, 'good'));
  const withStatus = defer(await startProxy(route, { app: { backends: [{ address: unavailable.address }, { address: good.address }], retries: { attempts: 1, on: ['503'] } } }));
  const retried = await request(withStatus, 'GET', '/');
  assert.equal(retried.status, 200);
  assert.equal(headerOf(retried.head, 'x-origin'), 'good');
  assert.equal(unavailable.requests(), 1);
  assert.deepEqual(withStatus.accessLog.at(-1)!.tried, [unavailable.address]);

  const without = defer(await startProxy(route, { app: { backends: [{ address: unavailable.address }, { address: good.address }], retries: { attempts: 1, on: ['connect_error'] } } }));
  const relayed = await request(without, 'GET', '/');
  assert.equal(relayed.status, 503);
  assert.equal(headerOf(relayed.head, 'x-origin'), 'busy');

  // POST answered 503: it was sent, so it is never replayed (a fresh proxy picks the busy backend first)
  const posts = defer(await startProxy(route, { app: { backends: [{ address: unavailable.address }, { address: good.address }], retries: { attempts: 1, on: ['503'] } } }));
  const post = await request(posts, 'POST', '/', 'a=1');
  assert.equal(post.status, 503);
  assert.equal(headerOf(post.head, 'x-origin'), 'busy');
});

test('per_try_timeout with `timeout` in on: a silent backend is abandoned after the per-try time', async () => {
  const silent = defer(await startSilentOrigin());
  const good = defer(await startEchoOrigin({ name: 'good' }));
  const proxy = defer(
    await startProxy(
      { timeouts: { upstream_response: '5s' }, ...route },
      { app: { backends: [{ address: silent.address }, { address: good.address }], retries: { attempts: 1, on: ['timeout'], per_try_timeout: '200ms' } } },
    ),
  );
  const started = performance.now();
  const response = await request(proxy, 'GET', '/');
  const took = performance.now() - started;
  assert.equal(response.status, 200);
  assert.ok(took >= 150 && took < 2000, `answered after ${took}ms`);
  assert.deepEqual(proxy.accessLog.at(-1)!.tried, [silent.address]);
});

test('the retry budget bounds retries when a whole pool fails', async () => {
  const a = defer(await startSilentOrigin());
  const b = defer(await startSilentOrigin());
  const proxy = defer(
    await startProxy(
      { timeouts: { upstream_response: '400ms' }, ...route },
      // budget 0%: only the minimum of 3 retries may be in flight at once
      { app: { backends: [{ address: a.address }, { address: b.address }], retries: { attempts: 1, on: ['timeout'], budget_percent: 0 } } },
    ),
  );
  const results = await Promise.all(Array.from({ length: 10 }, () => request(proxy, 'GET', '/')));
  assert.ok(results.every((result) => result.status === 504));
  const retried = proxy.accessLog.filter((line) => line.attempts === 2).length;
  assert.equal(retried, 3, `retries beyond the budget: ${retried}`);
  assert.equal(a.connections() + b.connections(), 13, 'ten first tries and three retries reached the pool');
});
