import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { healthSchema } from '../../config/index.ts';
import { dnsProbe } from './dns.ts';

const sockets: dgram.Socket[] = [];
after(() => {
  for (const socket of sockets) socket.close();
});

/** A name server that answers every query with `rcode` (or never, for undefined), echoing the id. */
async function server(rcode: number | undefined): Promise<number> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  socket.on('message', (query, peer) => {
    if (rcode === undefined) return;
    const reply = Buffer.from(query);
    reply.writeUInt16BE(0x8000 | rcode, 2);
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket.address().port;
}

const probe = dnsProbe.create(healthSchema.parse({ type: 'dns', query: 'example.test.', qtype: 'SOA' }));
const target = (port: number) => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port });

test('a NOERROR answer passes; any other rcode fails with its name', async () => {
  assert.deepEqual(await probe.check(target(await server(0)), AbortSignal.timeout(1000)), { ok: true, reason: 'noerror' });
  assert.deepEqual(await probe.check(target(await server(3)), AbortSignal.timeout(1000)), { ok: false, reason: 'rcode nxdomain' });
  assert.deepEqual(await probe.check(target(await server(5)), AbortSignal.timeout(1000)), { ok: false, reason: 'rcode refused' });
});

test('a server that never answers leaves the probe to the checker timeout; abort releases it', async () => {
  const controller = new AbortController();
  const pending = probe.check(target(await server(undefined)), controller.signal);
  controller.abort();
  assert.deepEqual(await pending, { ok: false, reason: 'aborted' });
});

test('the query must be named for a dns check', () => {
  assert.throws(() => healthSchema.parse({ type: 'dns' }), /expected a query/);
});
