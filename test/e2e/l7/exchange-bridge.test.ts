// handleExchange: the path src/h2 uses. A tiny codec stand-in feeds a parsed request and records what
// L7 answers; the router, pools, upstream connections and origin are all real.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startGarbageOrigin, type EchoOrigin, type Origin } from '../../support/origins.ts';
import type { ExchangeDownstream, ExchangeRequest } from '../../../src/l7/index.ts';
import type { EdgeError } from '../../../src/core/index.ts';

let echo: EchoOrigin;
let garbage: Origin;
let proxy: TestProxy;

before(async () => {
  echo = await startEchoOrigin();
  garbage = await startGarbageOrigin();
  proxy = await startProxy(
    {
      routes: [
        { match: { path: '/fixed' }, respond: { status: 201, body: 'made' } },
        { match: { path_prefix: '/garbage' }, pool: 'garbage' },
        { match: { path_prefix: '/api' }, pool: 'echo', strip_prefix: true },
      ],
    },
    { echo: { backends: [{ address: echo.address }] }, garbage: { backends: [{ address: garbage.address }] } },
  );
});

after(async () => {
  await proxy.stop();
  await echo.close();
  await garbage.close();
});

interface Answer {
  status: number;
  headers: string[];
  body: string;
  error?: EdgeError;
}

function exchange(request: Partial<ExchangeRequest>, body?: string[]): Promise<Answer> {
  return new Promise((resolve) => {
    const answer: Answer = { status: 0, headers: [], body: '' };
    const downstream: ExchangeDownstream = {
      sendHead(status, headers) {
        answer.status = status;
        answer.headers = headers;
      },
      sendData(chunk) {
        answer.body += chunk.toString('utf8');
        return true;
      },
      end() {
        resolve(answer);
      },
      fail(error) {
        answer.error = error;
        resolve(answer);
      },
      pauseBody() {},
      resumeBody() {},
    };
    const handle = proxy.listener.handleExchange(
      { method: 'GET', authority: 'site.test', path: '/', scheme: 'https', headers: [], peerAddress: '127.0.0.1', contentLength: body ? -1 : 0, ...request },
      downstream,
    );
    if (body) {
      for (const part of body) handle.bodyData(Buffer.from(part));
      handle.bodyEnd();
    }
  });
}

test('proxies through the router with strip_prefix, forwarded headers and a streamed body', async () => {
  const answer = await exchange({ method: 'POST', path: '/api/items?x=1', headers: ['x-test', 'yes', 'connection', 'bad'] }, ['hello ', 'world']);
  assert.equal(answer.status, 200);
  const echoed = JSON.parse(answer.body);
  assert.equal(echoed.url, '/items?x=1');
  assert.equal(echoed.bodyLength, 11);
  assert.equal(echoed.headers['x-test'], 'yes');
  assert.equal(echoed.headers.connection, undefined);
  assert.equal(echoed.headers['x-forwarded-proto'], 'https');
  assert.equal(echoed.headers.host, 'site.test');
  assert.ok(!answer.headers.includes('connection'));
  assert.equal(proxy.accessLog.at(-1)!.protocol, 'h2');
});

test('fixed responses, 404 and upstream garbage (502)', async () => {
  const fixed = await exchange({ path: '/fixed' });
  assert.equal(fixed.status, 201);
  assert.equal(fixed.body, 'made');
  assert.equal((await exchange({ path: '/nothing' })).status, 404);
  const bad = await exchange({ path: '/garbage' });
  assert.equal(bad.error?.status, 502);
});
