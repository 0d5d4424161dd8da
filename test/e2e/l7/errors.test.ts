// Upstream failures map to 502 / 503 / 504 with short bodies that leak no internal address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startGarbageOrigin, startSilentOrigin, refusedPort, type EchoOrigin, type Origin } from '../../support/origins.ts';

let echo: EchoOrigin;
let garbage: Origin;
let silent: Origin;
let proxy: TestProxy;

before(async () => {
  echo = await startEchoOrigin();
  garbage = await startGarbageOrigin();
  silent = await startSilentOrigin();
  const refused = await refusedPort();
  proxy = await startProxy(
    {
      timeouts: { upstream_response: '300ms' },
      routes: [
        { match: { path_prefix: '/refused' }, pool: 'refused' },
        { match: { path_prefix: '/garbage' }, pool: 'garbage' },
        { match: { path_prefix: '/silent' }, pool: 'silent' },
        { match: { path_prefix: '/drained' }, pool: 'drained' },
        { match: { path_prefix: '/patient' }, pool: 'echo', timeouts: { upstream_response: '3s' } },
        { pool: 'echo' },
      ],
    },
    {
      refused: { backends: [{ address: `127.0.0.1:${refused}` }] },
      garbage: { backends: [{ address: garbage.address }] },
      silent: { backends: [{ address: silent.address }] },
      drained: { backends: [{ address: echo.address, drain: true }] },
      echo: { backends: [{ address: echo.address }] },
    },
  );
});

after(async () => {
  await proxy.stop();
  await echo.close();
  await garbage.close();
  await silent.close();
});

async function status(path: string): Promise<{ status: number; head: string; body: string }> {
  const result = await rawExchange(proxy.port, `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`, { responses: 1 });
  assert.equal(result.responses.length, 1, result.text);
  return result.responses[0];
}

function assertShort(response: { body: string }): void {
  assert.ok(response.body.length < 64);
  assert.doesNotMatch(response.body, /127\.0\.0\.1|:\d{2,5}/);
}

test('502 when the upstream refuses the connection', async () => {
  const r = await status('/refused');
  assert.equal(r.status, 502);
  assertShort(r);
  assert.equal(proxy.accessLog.at(-1)!.status, 502);
});

test('502 when the upstream answers garbage', async () => {
  const r = await status('/garbage');
  assert.equal(r.status, 502);
  assertShort(r);
});

test('503 when the pool has no usable backend', async () => {
  const r = await status('/drained');
  assert.equal(r.status, 503);
  assertShort(r);
});

test('504 when the upstream is too slow (listener timeout), route override allows more', async () => {
  const started = performance.now();
  const r = await status('/slow?delay=2000');
  assert.equal(r.status, 504);
  assert.ok(performance.now() - started < 1500);
  assertShort(r);
  assert.equal((await status('/silent')).status, 504);
  const patient = await status('/patient?delay=500');
  assert.equal(patient.status, 200);
});

test('upstream 5xx responses are relayed as they are', async () => {
  const r = await status('/x?status=500&body=boom');
  assert.equal(r.status, 500);
  assert.equal(r.body, 'boom');
  assert.equal(headerOf(r.head, 'connection'), undefined);
});
