// The gate on real loopback sockets: counting and refusing at max_connections, access on the client a
// PROXY header names, the header split over reads with the client's bytes after it kept, and errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { ListenerConfig } from '../config/index.ts';
import { ConnectionGate } from './gate.ts';

const servers: net.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

function configOf(extra: Partial<ListenerConfig>): ListenerConfig {
  return { limits: { max_connections: 100 }, timeouts: { proxy_protocol: 2000 }, ...extra } as ListenerConfig;
}

/** A server whose admitted sockets report what they saw: their client and their first bytes. */
async function gated(gate: ConnectionGate): Promise<{ port: number; served: Promise<{ address: string | undefined; port: number | undefined; data: string }>[] }> {
  const served: Promise<{ address: string | undefined; port: number | undefined; data: string }>[] = [];
  const server = net.createServer((socket) =>
    gate.admit(socket, (admitted) => {
      served.push(
        new Promise((resolve) => {
          let data = '';
          admitted.on('data', (chunk) => (data += chunk));
          admitted.on('end', () => {
            resolve({ address: admitted.remoteAddress, port: admitted.remotePort, data });
            admitted.end();
          });
          admitted.resume();
        }),
      );
    }),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, served };
}

/** Writes the chunks one by one (each after the previous is flushed), half-closes, waits for the close. */
async function send(port: number, chunks: (string | Buffer)[], localAddress = '127.0.0.1'): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  socket.resume();
  await new Promise((resolve) => socket.once('connect', resolve));
  for (const chunk of chunks) await new Promise((resolve) => socket.write(chunk, resolve));
  socket.end();
  await new Promise((resolve) => socket.once('close', resolve));
}

test('a PROXY header split over reads names the client; the bytes after it reach the protocol unchanged', async () => {
  const gate = new ConnectionGate(configOf({ accept_proxy_protocol: [ipaddr.parseCIDR('127.0.0.1/32')] }));
  const { port, served } = await gated(gate);
  await send(port, ['PROXY TCP4 192.0.2.7 ', '127.0.0.1 4321 80\r', '\nhello ', 'world']);
  assert.deepEqual(await served[0], { address: '192.0.2.7', port: 4321, data: 'hello world' });
  await send(port, ['PROXY TCP4 192.0.2.8 127.0.0.1 1 80\r\nin one read']);
  assert.deepEqual(await served[1], { address: '192.0.2.8', port: 1, data: 'in one read' });
  // a source not listed: plain traffic, its own address
  await send(port, ['PROXY TCP4 192.0.2.9 127.0.0.1 1 80\r\n'], '127.0.0.2');
  const plain = await served[2];
  assert.equal(plain.address, '127.0.0.2');
  assert.equal(plain.data, 'PROXY TCP4 192.0.2.9 127.0.0.1 1 80\r\n');
  assert.equal(gate.status().proxy_header_errors, 0);
  await send(port, ['GET / HTTP/1.1\r\n\r\n']);
  assert.equal(served.length, 3, 'no header from a listed source: never served');
  assert.equal(gate.status().proxy_header_errors, 1);
});

test('access applies to the client the header names; max_connections counts until close', async () => {
  const gate = new ConnectionGate(configOf({ accept_proxy_protocol: [ipaddr.parseCIDR('127.0.0.1/32')], access: { deny: [ipaddr.parseCIDR('192.0.2.0/24')], allow: undefined } }));
  const { port, served } = await gated(gate);
  await send(port, ['PROXY TCP4 192.0.2.7 127.0.0.1 1 80\r\n', 'x']);
  await send(port, ['PROXY TCP4 198.51.100.1 127.0.0.1 1 80\r\n', 'y']);
  assert.equal((await served[0]).address, '198.51.100.1');
  assert.equal(served.length, 1);
  assert.equal(gate.status().refused_access, 1);

  gate.update(configOf({ limits: { max_connections: 1 } } as Partial<ListenerConfig>));
  const held = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => held.once('connect', resolve));
  // the server admits the held one before the next accept: a refused one is closed at once
  await send(port, ['z']);
  assert.equal(gate.status().refused_max_connections, 1);
  assert.equal(gate.connections, 1);
  held.end();
  await new Promise((resolve) => held.once('close', resolve));
  await served[1];
  assert.equal(gate.connections, 0);
});
