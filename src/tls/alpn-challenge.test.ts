// The ClientHello reader of tls-alpn-01 routing, on real ClientHellos made by node:tls, and on bytes that
// are not one (every prefix of a real hello, garbage): never throws, reads SNI and ALPN exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readClientHello } from './alpn-challenge.ts';

async function clientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const received = new Promise<Buffer>((resolve) => server.once('connection', (socket) => socket.once('data', (chunk: Buffer) => (resolve(chunk), socket.destroy()))));
  const client = tls.connect({ host: '127.0.0.1', port, ...options });
  client.on('error', () => undefined);
  const hello = await received;
  client.destroy();
  server.close();
  return hello;
}

test('SNI and ALPN of real ClientHellos; anything else is not a hello', async () => {
  const validation = await clientHello({ servername: 'Alpn.Shop.Test', ALPNProtocols: ['acme-tls/1'] });
  assert.deepEqual(readClientHello(validation), { servername: 'alpn.shop.test', alpn: ['acme-tls/1'] });
  const browser = await clientHello({ servername: 'www.shop.test', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(readClientHello(browser), { servername: 'www.shop.test', alpn: ['h2', 'http/1.1'] });
  assert.deepEqual(readClientHello(await clientHello({ ALPNProtocols: [] })), { alpn: [] });
  for (let length = 0; length < validation.length; length++) assert.equal(readClientHello(validation.subarray(0, length)), undefined);
  assert.equal(readClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), undefined);
  const corrupt = Buffer.from(validation);
  corrupt.fill(0xff, 43);
  assert.doesNotThrow(() => readClientHello(corrupt));
});
