// Regression: a request on a keep-alive connection opened before a reload must be routed by the new
// config. The connection used to refresh its runtime only when an exchange finished, so the first request
// after a reload on an idle connection still saw the old routes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { configSchema } from '../../src/config/index.ts';
import { startEchoOrigin } from '../support/origins.ts';
import { startProxy, splitResponses } from '../e2e/l7/helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** One keep-alive connection; `request` writes a request and resolves with the next complete response. */
async function keepAliveClient(port: number): Promise<{ request(text: string): Promise<{ status: number; body: string }>; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  let seen = 0;
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    waiter?.();
  });
  return {
    socket,
    request(text) {
      socket.write(text);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no response within 3s')), 3000);
        const check = (): void => {
          const responses = splitResponses(received);
          if (responses.length > seen) {
            clearTimeout(timer);
            waiter = null;
            const response = responses[seen++];
            resolve({ status: response.status, body: response.body });
          }
        };
        waiter = check;
        check();
      });
    },
  };
}

test('the first request after a reload on an existing keep-alive connection uses the new routes', async () => {
  const origin = await startEchoOrigin({ name: 'a' });
  cleanups.push(() => origin.close());
  const pools = { app: { backends: [{ address: origin.address }] } };
  const proxy = await startProxy({ routes: [{ match: { path_prefix: '/' }, pool: 'app' }] }, pools);
  cleanups.push(() => proxy.stop());

  const client = await keepAliveClient(proxy.port);
  cleanups.push(async () => client.socket.destroy());
  const first = await client.request('GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.equal(first.status, 200);
  assert.match(first.body, /"origin":"a"/);

  // reload: a fixed response in front of the pool route
  const next = configSchema.parse({
    pools,
    listeners: [{ name: 'test', listen: '127.0.0.1:0', routes: [{ match: { path: '/fixed' }, respond: { status: 418, body: 'short and stout' } }, { match: { path_prefix: '/' }, pool: 'app' }] }],
  });
  proxy.listener.updateConfig(next.listeners[0], new Map([['app', proxy.pools.require('app')]]));

  const second = await client.request('GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.equal(second.status, 418, 'the same connection routes by the reloaded config');
  assert.equal(second.body, 'short and stout');
  const third = await client.request('GET /other HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.equal(third.status, 200);
  assert.equal(proxy.listener.status().connections, 1, 'all three requests went over one connection');
});
