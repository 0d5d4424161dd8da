// L4 TCP listeners through the real process: bytes piped both ways, failover past a dead backend at
// connect time, PROXY protocol v1 and v2 headers telling the upstream the client's address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort, startTcpEchoOrigin, type TcpEchoOrigin } from '../../support/origins.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function echoServer(name: string): Promise<TcpEchoOrigin> {
  const origin = await startTcpEchoOrigin(`${name}:`);
  cleanups.push(() => origin.close());
  return origin;
}

async function exchange(port: number, payload: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.end(payload);
  await new Promise((resolve) => socket.once('close', resolve));
  return received;
}

async function edge(yaml: string): Promise<RunningSwitchyard> {
  const running = await runSwitchyard(yaml);
  cleanups.push(() => running.stop());
  return running;
}

test('tcp listener pipes bytes and skips a backend that refuses connections', async () => {
  const live = await echoServer('live');
  const dead = await refusedPort();
  const running = await edge(`
pools:
  raw:
    backends: [ { address: 127.0.0.1:${dead} }, { address: 127.0.0.1:${live.port} } ]
listeners:
  - name: l4
    listen: 127.0.0.1:0
    protocol: tcp
    pool: raw
`);
  const port = running.ready.listeners.l4.port;
  for (let index = 0; index < 4; index++) assert.equal(await exchange(port, `hello ${index}`), `live:hello ${index}`);
  const big = 'x'.repeat(2 * 1024 * 1024);
  const echoed = await exchange(port, big);
  assert.equal(echoed.length, big.length + 'live:'.length * (echoed.split('live:').length - 1));
  await running.waitForLine((line) => line.log === 'access' && line.outcome === 'success' && line.listener === 'l4');
});

test('PROXY protocol v1 and v2 tell the upstream the real client address', async () => {
  const v1 = await echoServer('v1');
  const v2 = await echoServer('v2');
  const running = await edge(`
pools:
  one: { backends: [ { address: 127.0.0.1:${v1.port} } ] }
  two: { backends: [ { address: 127.0.0.1:${v2.port} } ] }
listeners:
  - { name: p1, listen: 127.0.0.1:0, protocol: tcp, pool: one, proxy_protocol: v1 }
  - { name: p2, listen: 127.0.0.1:0, protocol: tcp, pool: two, proxy_protocol: v2 }
`);
  const p1 = running.ready.listeners.p1.port;
  await exchange(p1, 'after-header');
  const text = Buffer.concat(v1.firstBytes).toString('latin1');
  assert.match(text, new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 \\d+ ${p1}\\r\\n`));

  const p2 = running.ready.listeners.p2.port;
  await exchange(p2, 'after-header');
  const header = Buffer.concat(v2.firstBytes);
  assert.deepEqual([...header.subarray(0, 12)], [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  assert.equal(header[12], 0x21);
  assert.equal(header[13], 0x11);
  assert.equal(header.readUInt16BE(14), 12);
  assert.deepEqual([...header.subarray(16, 20)], [127, 0, 0, 1]);
  assert.equal(header.readUInt16BE(26), p2);
});
