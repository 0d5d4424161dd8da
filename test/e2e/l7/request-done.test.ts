// deps.onRequestDone: called once per finished request with the listener, route and pool names, the
// status and the duration — for proxied, local, refused-by-route and failed requests alike.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, rawExchange } from './helpers.ts';
import { startEchoOrigin, refusedPort } from '../../support/origins.ts';
import type { RequestDoneRecord } from '../../../src/l7/index.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

test('onRequestDone sees every finished request once, with precomputed names', async () => {
  const origin = await startEchoOrigin();
  cleanups.push(() => origin.close());
  const refused = await refusedPort();
  const records: RequestDoneRecord[] = [];
  const proxy = await startProxy(
    {
      routes: [
        { name: 'health', match: { path: '/healthz' }, respond: { body: 'ok' } },
        { name: 'down', match: { path_prefix: '/down' }, pool: 'down' },
        { match: { path_prefix: '/api' }, pool: 'app' },
      ],
    },
    { app: { backends: [{ address: origin.address }] }, down: { backends: [{ address: `127.0.0.1:${refused}` }] } },
    // the record object is reused by the listener: a consumer copies what it keeps
    { onRequestDone: (record) => records.push({ ...record }) },
  );
  cleanups.push(() => proxy.stop());
  const requests = [
    'GET /api/x HTTP/1.1\r\nhost: a\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n',
    'GET /nowhere HTTP/1.1\r\nhost: a\r\n\r\n',
    'GET /down HTTP/1.1\r\nhost: a\r\n\r\n',
    'GET /api/%2F HTTP/1.1\r\nhost: a\r\n\r\n',
  ];
  for (const text of requests) await rawExchange(proxy.port, text, { responses: 1 });
  assert.equal(records.length, 5);
  assert.deepEqual(
    records.map(({ listener, route, pool, status }) => ({ listener, route, pool, status })),
    [
      { listener: 'test', route: '#2', pool: 'app', status: 200 },
      { listener: 'test', route: 'health', pool: '', status: 200 },
      { listener: 'test', route: '', pool: '', status: 404 },
      { listener: 'test', route: 'down', pool: 'down', status: 502 },
      // refused before routing (bad path): counted, with no route or pool
      { listener: 'test', route: '', pool: '', status: 400 },
    ],
  );
  for (const record of records) assert.ok(record.durationSeconds >= 0 && record.durationSeconds < 5, String(record.durationSeconds));
});
