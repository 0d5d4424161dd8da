// max_connections is one connection filter (src/listener) for every kind of listener: the same run over
// http, https and tcp listeners — at the limit a new connection is closed unanswered, open ones are
// untouched, and a slot freed by a closing connection is taken by the next one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { runSwitchyard } from '../../support/run-switchyard.ts';
import { startEchoOrigin, startTcpEchoOrigin } from '../../support/origins.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

type Kind = 'http' | 'https' | 'tcp';

/** A TCP connection held open (for https: before any handshake, which the limit counts too). */
async function hold(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

/** Closes a held connection and waits until the listener has closed its side too. */
async function release(socket: net.Socket): Promise<void> {
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.end();
  await closed;
}

/** One exchange of the listener's protocol (from `from`): true when it was served, false when closed unanswered. */
function served(kind: Kind, port: number, from = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const tcp = net.connect({ port, host: '127.0.0.1', localAddress: from });
    const socket = kind === 'https' ? tls.connect({ socket: tcp, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }) : tcp;
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`${kind}: neither served nor closed within 5s`))), 5000);
    socket.on('error', () => undefined);
    socket.once(kind === 'https' ? 'secureConnect' : 'connect', () => socket.write(kind === 'tcp' ? 'ping' : 'GET / HTTP/1.1\r\nhost: edge.test\r\nconnection: close\r\n\r\n'));
    socket.on('data', (chunk) => {
      text += chunk;
      if (kind === 'tcp' && text === 'ping') socket.end();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(kind === 'tcp' ? text === 'ping' : text.startsWith('HTTP/1.1 200'));
    });
  });
}

test('max_connections works the same on http, https and tcp listeners, and a reload applies new access lists to all three', { timeout: 60_000 }, async () => {
  const origin = await startEchoOrigin();
  cleanups.push(() => origin.close());
  const tcpOrigin = await startTcpEchoOrigin();
  cleanups.push(() => tcpOrigin.close());
  const config = (filters: string): string => `
admin: { listen: 127.0.0.1:0 }
pools:
  web: { backends: [ { address: ${origin.address} } ] }
  raw: { backends: [ { address: ${tcpOrigin.address} } ] }
listeners:
  - { name: http, listen: 127.0.0.1:0, ${filters}, routes: [ { match: { path_prefix: / }, pool: web } ] }
  - { name: https, listen: 127.0.0.1:0, protocol: https, tls: { self_signed: true }, ${filters}, routes: [ { match: { path_prefix: / }, pool: web } ] }
  - { name: tcp, listen: 127.0.0.1:0, protocol: tcp, pool: raw, ${filters} }
`;
  const edge = await runSwitchyard(config('limits: { max_connections: 2 }'));
  cleanups.push(() => edge.stop());
  for (const kind of ['http', 'https', 'tcp'] as const) {
    const port = edge.ready.listeners[kind].port;
    assert.equal(await served(kind, port), true, `${kind}: served below the limit`);
    const held = [await hold(port), await hold(port)];
    assert.equal(await served(kind, port), false, `${kind}: at the limit a new connection is closed unanswered`);
    assert.ok(held.every((socket) => !socket.destroyed), `${kind}: the open connections stay`);
    await release(held[0]);
    // the listener sees the close a moment after the client does: a few tries, bounded
    let ok = false;
    for (let attempt = 0; attempt < 20 && !ok; attempt++) ok = await served(kind, port);
    assert.equal(ok, true, `${kind}: a freed slot is taken by the next connection`);
    for (const socket of held) socket.destroy();
  }

  // each listener's status counts what its filters refused (admin API, per worker)
  const token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
  const response = await fetch(`http://127.0.0.1:${edge.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  const status = (await response.json()) as { traffic: { listeners: Record<Kind, { filter: { refused_max_connections: number } }> }[] };
  for (const kind of ['http', 'https', 'tcp'] as const) {
    assert.ok(status.traffic[0].listeners[kind].filter.refused_max_connections >= 1, `${kind}: refusals counted`);
  }
  // a reload: new connections meet the new lists, on every kind, at the same addresses
  await writeFile(edge.configFile, config('access: { deny: [127.0.0.2] }'));
  const earlier = new Set(edge.lines);
  edge.process.kill('SIGHUP');
  await edge.waitForLine((line) => line.msg === 'reloaded' && !earlier.has(line));
  for (const kind of ['http', 'https', 'tcp'] as const) {
    const port = edge.ready.listeners[kind].port;
    assert.equal(await served(kind, port, '127.0.0.2'), false, `${kind}: denied after the reload`);
    assert.equal(await served(kind, port, '127.0.0.3'), true, `${kind}: others still served`);
  }
});
