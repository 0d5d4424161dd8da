// switchyard ping against an address inside a network namespace (veth pair between two namespaces the
// test creates): raw socket as root, unprivileged ICMP datagram socket when ping_group_range allows it,
// the "not permitted" advice when it does not, and 100% loss when the target ignores echo requests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertOneLineFailure, switchyard } from './cli.ts';
import { createNamespaces, inNs, link, type Namespaces } from './netns.ts';

const NOBODY = 65534;
let spaces: Namespaces;
let client: string;
let target: string;

before(async () => {
  spaces = await createNamespaces(['pclient', 'ptarget', 'pquiet']);
  ({ pclient: client, ptarget: target } = spaces.names);
  await link(client, 'veth0', '198.18.10.1/24', target, 'veth0', '198.18.10.2/24');
  await link(client, 'veth1', '198.18.11.1/24', spaces.names.pquiet, 'veth0', '198.18.11.2/24');
  await inNs(spaces.names.pquiet, 'sysctl', ['-qw', 'net.ipv4.icmp_echo_ignore_all=1']);
});

after(async () => {
  await spaces?.remove();
});

test('ping as root uses a raw socket and reports every reply with RTT statistics', async () => {
  const run = await switchyard(['ping', '198.18.10.2', '-c', '3', '-i', '0.2'], { netns: client });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^PING 198\.18\.10\.2 \(198\.18\.10\.2\) 56 data bytes$/m);
  for (const seq of [1, 2, 3]) assert.match(run.stdout, new RegExp(`^64 bytes from 198\\.18\\.10\\.2: icmp_seq=${seq} ttl=64 time=\\d+\\.\\d{3} ms$`, 'm'));
  assert.match(run.stdout, /raw ICMP socket/);
  assert.match(run.stdout, /^3 packets transmitted, 3 received, 0% packet loss$/m);
  const stats = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(run.stdout);
  assert.ok(stats, run.stdout);
  const [min, avg, max] = stats.slice(1, 4).map(Number);
  assert.ok(min > 0 && min <= avg && avg <= max && max < 1000, `implausible ${stats[0]}`);
});

test('ping --json reports each probe and the socket kind', async () => {
  const run = await switchyard(['ping', '198.18.10.2', '-c', '2', '-i', '0.1', '--json'], { netns: client });
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.ok, true);
  assert.equal(result.address, '198.18.10.2');
  assert.equal(result.probes.length, 2);
  assert.deepEqual(result.probes.map((probe: { status: string }) => probe.status), ['reply', 'reply']);
  assert.equal(result.stats.received, 2);
});

test('an unprivileged user pings through an ICMP datagram socket when ping_group_range allows it', async () => {
  await inNs(client, 'sysctl', ['-qw', 'net.ipv4.ping_group_range=0 2147483647']);
  try {
    const run = await switchyard(['ping', '198.18.10.2', '-c', '2', '-i', '0.1'], { netns: client, user: NOBODY });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /unprivileged ICMP datagram socket/);
    assert.match(run.stdout, /^2 packets transmitted, 2 received, 0% packet loss$/m);
  } finally {
    await inNs(client, 'sysctl', ['-qw', 'net.ipv4.ping_group_range=1 0']);
  }
});

test('when ICMP is not permitted, ping says why in one line and suggests tcping', async () => {
  const run = await switchyard(['ping', '198.18.10.2', '-c', '1'], { netns: client, user: NOBODY });
  assertOneLineFailure(run, 'ICMP', /not permitted.*ping_group_range \(1-0\).*tcping/);
  assert.equal(run.stdout, '');
});

test('a target that ignores echo requests: 100% loss, one line, exit 1', async () => {
  const run = await switchyard(['ping', '198.18.11.2', '-c', '2', '-i', '0.1', '-W', '0.3'], { netns: client });
  assertOneLineFailure(run, 'ICMP', /no echo reply from 198\.18\.11\.2 \(2 sent, 100% loss\)/);
  assert.match(run.stdout, /2 packets transmitted, 0 received, 100% packet loss/);
});

test('no route to the address: one line, exit 1', async () => {
  const run = await switchyard(['ping', '198.18.99.1', '-c', '1'], { netns: client });
  assertOneLineFailure(run, 'ICMP', /network unreachable/);
});

test('an unresolvable host fails at the DNS layer', async () => {
  const run = await switchyard(['ping', 'no-such-host.invalid', '-c', '1'], { netns: client });
  assertOneLineFailure(run, 'DNS', /cannot resolve no-such-host\.invalid/);
});
