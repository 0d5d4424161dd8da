// switchyard tcping against an open port (every handshake really reaches the listener), a closed port
// (refused), a silent address (SYNs lost inside a namespace: timeout) and an unresolvable name.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { assertOneLineFailure, switchyard } from './cli.ts';
import { anchorPort, type PortAnchor } from '../../support/ports.ts';
import { createNamespaces, ip, link, type Namespaces } from './netns.ts';

let server: net.Server;
let accepted = 0;
let openPort = 0;
let closedPort = 0;
let closed: PortAnchor | undefined;
let spaces: Namespaces;

before(async () => {
  server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  openPort = (server.address() as net.AddressInfo).port;
  // bound but not listening: refused, and no other process can start listening there meanwhile
  closed = await anchorPort();
  closedPort = closed.port;
  spaces = await createNamespaces(['kclient', 'kpeer']);
  await link(spaces.names.kclient, 'veth0', '198.18.20.1/24', spaces.names.kpeer, 'veth0', '198.18.20.2/24');
  // a neighbour entry to a MAC nobody has: frames leave, nobody answers, the SYN is silently lost
  await ip('-n', spaces.names.kclient, 'neigh', 'add', '198.18.20.9', 'lladdr', '02:00:5e:00:53:99', 'dev', 'veth0', 'nud', 'permanent');
});

after(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await spaces?.remove();
  await closed?.release();
});

test('tcping an open port: one line per handshake and connect-time statistics', async () => {
  const before = accepted;
  const run = await switchyard(['tcping', `127.0.0.1:${openPort}`, '-c', '3', '-i', '0.05']);
  assert.equal(run.code, 0, run.stderr);
  for (const seq of [1, 2, 3]) assert.match(run.stdout, new RegExp(`^connected to 127\\.0\\.0\\.1:${openPort}: seq=${seq} time=\\d+\\.\\d{3} ms$`, 'm'));
  assert.match(run.stdout, /^3 handshakes attempted, 3 connected, 0% loss$/m);
  const stats = /connect min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(run.stdout);
  assert.ok(stats, run.stdout);
  const [min, avg, max] = stats.slice(1, 4).map(Number);
  assert.ok(min > 0 && min <= avg && avg <= max, stats[0]);
  assert.equal(accepted - before, 3, 'each attempt is a real handshake the listener accepted');
});

test('tcping --json', async () => {
  const run = await switchyard(['tcping', `127.0.0.1:${openPort}`, '-c', '2', '-i', '0', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.attempts.length, 2);
  assert.equal(result.stats.received, 2);
  assert.equal(result.stats.lossPercent, 0);
});

test('tcping a closed port: refused on every attempt, 100% loss, one TCP line, exit 1', async () => {
  const run = await switchyard(['tcping', `127.0.0.1:${closedPort}`, '-c', '2', '-i', '0.05']);
  assertOneLineFailure(run, 'TCP', new RegExp(`127\\.0\\.0\\.1:${closedPort} connection refused \\(ECONNREFUSED\\) \\(2 of 2 attempts failed\\)`));
  assert.match(run.stdout, /seq=1 connection refused/);
  assert.match(run.stdout, /^2 handshakes attempted, 0 connected, 100% loss$/m);
});

test('tcping a silent address: each attempt times out', async () => {
  const run = await switchyard(['tcping', '198.18.20.9:80', '-c', '2', '-i', '0', '-t', '0.3'], { netns: spaces.names.kclient });
  assertOneLineFailure(run, 'TCP', /198\.18\.20\.9:80 no answer within 300 ms \(timeout\)/);
});

test('tcping an unresolvable name: one DNS line', async () => {
  // inside the namespace no resolver is reachable, so nothing leaves the machine
  const run = await switchyard(['tcping', 'no-such-host.invalid:80', '-c', '1'], { netns: spaces.names.kclient });
  assertOneLineFailure(run, 'DNS', /cannot resolve no-such-host\.invalid/);
});

test('tcping without a port is a usage error', async () => {
  const run = await switchyard(['tcping', '127.0.0.1']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /expected HOST:PORT/);
});
