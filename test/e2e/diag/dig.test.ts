// switchyard dig against a small dns-packet server on loopback, compared with Debian's dig on the same
// queries (status, flags and every record of every section); TCP retry on truncation; --trace through a
// root → test. → example.test. hierarchy on 127.0.0.1-4 (one port for all, like dig -p); failures.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Answer } from 'dns-packet';
import { startTinyDns, type TinyDns } from '../../support/tiny-dns.ts';
import { assertOneLineFailure, runProcess, switchyard } from './cli.ts';
import { parseDigText } from './dig-parse.ts';
import { anchorPort } from '../../support/ports.ts';

const soa = (zone: string): Answer => ({ type: 'SOA', name: zone, ttl: 3600, data: { mname: `ns1.${zone}`, rname: `hostmaster.${zone}`, serial: 2026112601, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } });

const exampleRecords: Answer[] = [
  soa('example.test'),
  { type: 'NS', name: 'example.test', ttl: 3600, data: 'ns1.example.test' },
  { type: 'A', name: 'ns1.example.test', ttl: 3600, data: '127.0.0.3' },
  { type: 'A', name: 'ns.example.test', ttl: 3600, data: '127.0.0.4' },
  { type: 'A', name: 'www.example.test', ttl: 300, data: '192.0.2.10' },
  { type: 'AAAA', name: 'www.example.test', ttl: 300, data: '2001:db8::10' },
  { type: 'CNAME', name: 'api.example.test', ttl: 120, data: 'lb.example.test' },
  { type: 'CNAME', name: 'lb.example.test', ttl: 60, data: 'www.example.test' },
  { type: 'MX', name: 'example.test', ttl: 600, data: { preference: 10, exchange: 'mail.example.test' } },
  { type: 'TXT', name: 'example.test', ttl: 600, data: ['v=spf1 -all', 'say "hi" \\ there'] },
  { type: 'SRV', name: '_http._tcp.example.test', ttl: 600, data: { priority: 1, weight: 5, port: 8080, target: 'www.example.test' } },
  { type: 'CAA', name: 'example.test', ttl: 600, data: { flags: 0, tag: 'issue', value: 'ca.example.test' } },
  ...Array.from({ length: 40 }, (_, i): Answer => ({ type: 'A', name: 'big.example.test', ttl: 60, data: `198.51.100.${i + 1}` })),
];

let servers: TinyDns[] = [];
let port = 0;
let tmp: string;

/** root (127.0.0.1) → test. (127.0.0.2) → example.test. (127.0.0.3), glueless.test. (127.0.0.4), one port. */
async function startHierarchy(): Promise<void> {
  for (let attempt = 0; attempt < 5 && servers.length < 4; attempt++) {
    const started: TinyDns[] = [];
    try {
      started.push(await startTinyDns({ host: '127.0.0.1', zone: '.', records: [
        { type: 'NS', name: '.', ttl: 518400, data: 'root.' },
        { type: 'NS', name: 'test', ttl: 172800, data: 'ns1.test' },
        { type: 'A', name: 'ns1.test', ttl: 172800, data: '127.0.0.2' },
      ] }));
      const shared = started[0].port;
      started.push(await startTinyDns({ host: '127.0.0.2', port: shared, zone: 'test', records: [
        soa('test'),
        { type: 'NS', name: 'test', ttl: 172800, data: 'ns1.test' },
        { type: 'A', name: 'ns1.test', ttl: 172800, data: '127.0.0.2' },
        { type: 'NS', name: 'example.test', ttl: 86400, data: 'ns1.example.test' },
        { type: 'A', name: 'ns1.example.test', ttl: 86400, data: '127.0.0.3' },
        // out-of-bailiwick name server and no glue: the walk must look it up itself
        { type: 'NS', name: 'glueless.test', ttl: 86400, data: 'ns.example.test' },
      ] }));
      started.push(await startTinyDns({ host: '127.0.0.3', port: shared, zone: 'example.test', records: exampleRecords, udpLimit: 512 }));
      started.push(await startTinyDns({ host: '127.0.0.4', port: shared, zone: 'glueless.test', records: [
        soa('glueless.test'),
        { type: 'A', name: 'app.glueless.test', ttl: 30, data: '192.0.2.77' },
      ] }));
      servers = started;
      port = shared;
    } catch {
      await Promise.all(started.map((server) => server.close()));
    }
  }
  assert.equal(servers.length, 4, 'could not bind the DNS hierarchy on 127.0.0.1-4 (one shared port)');
}

before(async () => {
  await startHierarchy();
  tmp = await mkdtemp(path.join(tmpdir(), 'switchyard-dig-'));
});

after(async () => {
  await Promise.all(servers.map((server) => server.close()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// [name, type, answer records expected] (the count keeps the comparison from passing on two empty parses)
const cases: [name: string, type: string, answers: number][] = [
  ['www.example.test', 'A', 1],
  ['www.example.test', 'AAAA', 1],
  ['api.example.test', 'A', 3],
  ['example.test', 'MX', 1],
  ['example.test', 'TXT', 1],
  ['example.test', 'SOA', 1],
  ['example.test', 'NS', 1],
  ['example.test', 'CAA', 1],
  ['_http._tcp.example.test', 'SRV', 1],
  ['nope.example.test', 'A', 0],
  ['www.example.test', 'MX', 0],
  ['big.example.test', 'A', 40],
];

for (const [name, type, answers] of cases) {
  test(`dig ${name} ${type}: same status, flags and records as Debian's dig`, async () => {
    const ours = await switchyard(['dig', name, type, `@127.0.0.3:${port}`]);
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = await runProcess('dig', [`@127.0.0.3`, '-p', String(port), name, type, '+nocookie', '+time=2', '+tries=1']);
    assert.equal(theirs.code, 0, theirs.stderr);
    const a = parseDigText(ours.stdout);
    const b = parseDigText(theirs.stdout);
    assert.equal(a.answer.length, answers, ours.stdout);
    if (answers === 0) assert.equal(a.authority.length, 1, 'NXDOMAIN and NODATA carry the SOA');
    assert.equal(a.status, b.status);
    assert.deepEqual(a.flags, b.flags);
    assert.deepEqual(a.answer, b.answer);
    assert.deepEqual(a.authority, b.authority);
    assert.deepEqual(a.additional, b.additional);
    assert.match(ours.stdout, /^;; Query time: \d+\.\d msec$/m);
    assert.match(ours.stdout, new RegExp(`^;; SERVER: 127\\.0\\.0\\.3#${port}\\(127\\.0\\.0\\.3\\) \\((UDP|TCP)\\)$`, 'm'));
  });
}

test('a truncated UDP answer is asked again over TCP, like dig', async () => {
  const ours = await switchyard(['dig', 'big.example.test', `@127.0.0.3:${port}`, '--json']);
  assert.equal(ours.code, 0, ours.stderr);
  const result = JSON.parse(ours.stdout);
  assert.equal(result.transport, 'TCP');
  assert.equal(result.retriedOverTcp, true);
  assert.equal(result.answer.length, 40);
  const forced = JSON.parse((await switchyard(['dig', 'www.example.test', `@127.0.0.3:${port}`, '--tcp', '--json'])).stdout);
  assert.equal(forced.transport, 'TCP');
  assert.equal(forced.retriedOverTcp, false);
  assert.deepEqual(forced.answer.map((r: { data: string }) => r.data), ['192.0.2.10']);
  assert.deepEqual(forced.edns, { udpPayloadSize: 1232, version: 0, do: false });
});

test('dig --trace walks root → test. → example.test. to the authoritative answer', async () => {
  const run = await switchyard(['dig', 'api.example.test', '--trace', '--root', `@127.0.0.1:${port}`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^test\.\s+172800\s+IN\s+NS\s+ns1\.test\.$/m);
  assert.match(run.stdout, new RegExp(`^;; Received \\d+ bytes from 127\\.0\\.0\\.1#${port}\\(root\\.\\) in [\\d.]+ ms \\(zone \\.,`, 'm'));
  assert.match(run.stdout, /^example\.test\.\s+86400\s+IN\s+NS\s+ns1\.example\.test\.$/m);
  assert.match(run.stdout, new RegExp(`from 127\\.0\\.0\\.2#${port}\\(ns1\\.test\\.\\) .*zone test\\.,`));
  assert.match(run.stdout, /^api\.example\.test\.\s+120\s+IN\s+CNAME\s+lb\.example\.test\.$/m);
  assert.match(run.stdout, /^www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10$/m);
  assert.match(run.stdout, new RegExp(`from 127\\.0\\.0\\.3#${port}\\(ns1\\.example\\.test\\.\\) .*zone example\\.test\\., flags: qr aa\\)`));
  const json = JSON.parse((await switchyard(['dig', 'api.example.test', '--trace', '--root', `@127.0.0.1:${port}`, '--json'])).stdout);
  assert.deepEqual(json.steps.map((step: { zone: string; server: string }) => [step.zone, step.server]), [['.', '127.0.0.1'], ['test.', '127.0.0.2'], ['example.test.', '127.0.0.3']]);
});

test('dig --trace follows a glueless delegation by resolving the name server itself', async () => {
  const hints = path.join(tmp, 'named.root');
  await writeFile(hints, '; test root hints\n.  3600000  NS  root.\nroot.  3600000  A  127.0.0.1\n');
  const run = await switchyard(['dig', 'app.glueless.test', '--trace', '--root-hints', hints, '-p', String(port), '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  const last = result.steps.at(-1);
  assert.equal(last.server, '127.0.0.4');
  assert.equal(last.zone, 'glueless.test.');
  assert.deepEqual(last.answer, [{ name: 'app.glueless.test.', ttl: 30, class: 'IN', type: 'A', data: '192.0.2.77' }]);
});

test('a server that never answers: one DNS line, exit 1', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  try {
    const run = await switchyard(['dig', 'www.example.test', `@127.0.0.1:${silent.address().port}`, '--timeout', '0.2']);
    assertOneLineFailure(run, 'DNS', /no answer from 127\.0\.0\.1:\d+ over UDP after 3 tries of 200 ms/);
  } finally {
    silent.close();
  }
});

test('nothing listening on the port: one DNS line over UDP and over TCP', async () => {
  // held for TCP (bound, not listening) and UDP (connected elsewhere): refused and unreachable, and no
  // other process can start serving it meanwhile
  const closed = await anchorPort('127.0.0.1', 0, { udp: true });
  try {
    assertOneLineFailure(await switchyard(['dig', 'x.test', `@127.0.0.1:${closed.port}`]), 'DNS', /port unreachable/);
    assertOneLineFailure(await switchyard(['dig', 'x.test', `@127.0.0.1:${closed.port}`, '--tcp']), 'DNS', /connection refused/);
  } finally {
    await closed.release();
  }
});

test('bad arguments are usage errors (exit 2)', async () => {
  const run = await switchyard(['dig', 'example.test', 'NOTATYPE', `@127.0.0.1:${port}`]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /unknown record type "NOTATYPE"/);
});
