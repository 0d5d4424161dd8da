// Listener lifecycle: reload (updateConfig), drain with in-flight requests, stop, limits at accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { configSchema } from '../../../src/config/index.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { createHttpListener } from '../../../src/l7/index.ts';
import { startProxy, rawExchange, headerOf, waitFor } from './helpers.ts';
import { startEchoOrigin } from '../../support/origins.ts';

test('updateConfig: new requests use the new routes', async () => {
  const origin = await startEchoOrigin();
  const pools = { app: { backends: [{ address: origin.address }] } };
  const proxy = await startProxy({ routes: [{ respond: { body: 'old' } }] }, pools);
  try {
    const conn = net.connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => conn.once('connect', resolve));
    assert.equal((await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 })).responses[0].body, 'old');
    const next = configSchema.parse({ pools, listeners: [{ name: 'test', listen: '127.0.0.1:0', routes: [{ respond: { body: 'new' } }] }] });
    proxy.listener.updateConfig(next.listeners[0], new Map([['app', proxy.pools.require('app')]]));
    assert.equal((await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 })).responses[0].body, 'new');
    conn.destroy();
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test('drain: in-flight requests finish with Connection: close, new connections are refused', async () => {
  const origin = await startEchoOrigin();
  const proxy = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
  try {
    const slow = rawExchange(proxy.port, 'GET /?delay=300 HTTP/1.1\r\nHost: a\r\n\r\n', { timeoutMs: 5000 });
    // wait until the request is in flight
    assert.ok(await waitFor(() => proxy.listener.status().inflight === 1));
    const drained = proxy.listener.drain(Date.now() + 3000);
    const result = await slow;
    await drained;
    assert.equal(result.responses[0].status, 200);
    assert.equal(headerOf(result.responses[0].head, 'connection'), 'close');
    assert.equal(result.closed, true);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = net.connect(proxy.port, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      }),
    );
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test('request bodies above max_body_size get 413; connections above max_connections are closed', async () => {
  const origin = await startEchoOrigin();
  const proxy = await startProxy({ limits: { max_body_size: '1kb', max_connections: 1 }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
  try {
    const big = await rawExchange(proxy.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n');
    assert.equal(big.responses[0].status, 413);
    assert.equal(big.closed, true);
    assert.ok(await waitFor(() => proxy.listener.status().connections === 0));
    const holder = net.connect(proxy.port, '127.0.0.1');
    assert.ok(await waitFor(() => proxy.listener.status().connections === 1));
    const refused = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { timeoutMs: 2000 });
    assert.equal(refused.responses.length, 0);
    assert.equal(refused.closed, true);
    holder.destroy();
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test('external mode: sockets accepted elsewhere are served through acceptConnection', async () => {
  const origin = await startEchoOrigin();
  const base = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
  const config = configSchema.parse({ pools: { app: { backends: [{ address: origin.address }] } }, listeners: [{ name: 'ext', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }] });
  const listener = createHttpListener(config.listeners[0], { pools: new Map([['app', base.pools.require('app')]]), accessLog: silentLogger(), logger: silentLogger(), external: true });
  await listener.start();
  const server = net.createServer((socket) => listener.acceptConnection(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const result = await rawExchange(port, 'GET /ext HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
    assert.equal(JSON.parse(result.responses[0].body).url, '/ext');
  } finally {
    await listener.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await base.stop();
    await origin.close();
  }
});
