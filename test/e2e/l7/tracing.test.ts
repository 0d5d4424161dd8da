// The edge side of tracing: traceparent propagated or started on every proxied request (tracestate only
// with a valid one), and the edge's phases in Server-Timing only for requests carrying the admin token
// in x-switchyard-trace — never for others, and the header itself never goes upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { node24, cliEntry } from '../../support/run-switchyard.ts';

const TOKEN = 'secret-admin-token-0123456789';

interface Seen {
  headers: http.IncomingHttpHeaders;
  raw: string[];
}

let origin: http.Server;
let originAddress = '';
const seen: Seen[] = [];
let proxy: TestProxy;

before(async () => {
  // an application that reports its own database time, as the demo apps do
  origin = http.createServer((req, res) => {
    seen.push({ headers: req.headers, raw: req.rawHeaders });
    req.resume();
    req.on('end', () => {
      const delay = Number(new URL(req.url ?? '/', 'http://o').searchParams.get('delay') ?? 0);
      setTimeout(() => res.writeHead(200, { 'server-timing': 'db;dur=12;desc="users query"', 'content-length': 2 }).end('ok'), delay);
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originAddress = `127.0.0.1:${(origin.address() as AddressInfo).port}`;
  proxy = await startProxy({ routes: [{ name: 'api', match: { path_prefix: '/' }, pool: 'app' }] }, { app: { balance: 'least_conn', backends: [{ address: originAddress }] } }, { traceToken: TOKEN });
});

after(async () => {
  await proxy.stop();
  origin.closeAllConnections();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

async function get(headers: string[] = [], path = '/'): Promise<{ head: string; upstream: Seen }> {
  const before = seen.length;
  const result = await rawExchange(proxy.port, `GET ${path} HTTP/1.1\r\nhost: a\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`, { responses: 1 });
  assert.equal(result.responses.length, 1, result.text);
  assert.equal(seen.length, before + 1);
  return { head: result.responses[0].head, upstream: seen[before] };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

test('a request without traceparent goes upstream with a new one (and no stray tracestate)', async () => {
  const { upstream } = await get(['tracestate: vendor=1']);
  const match = TRACEPARENT.exec(String(upstream.headers.traceparent));
  assert.ok(match, `traceparent ${upstream.headers.traceparent}`);
  assert.notEqual(match[1], '0'.repeat(32));
  assert.equal(upstream.headers.tracestate, undefined, 'a tracestate without a valid traceparent is dropped');
  const second = await get();
  assert.notEqual(TRACEPARENT.exec(String(second.upstream.headers.traceparent))![1], match[1], 'each request starts its own trace');
  assert.equal(proxy.accessLog.at(-1)!.trace_id, TRACEPARENT.exec(String(second.upstream.headers.traceparent))![1]);
});

test('a valid traceparent is continued: same trace id and flags, the edge as parent, tracestate passed through', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const { upstream } = await get([`traceparent: 00-${traceId}-00f067aa0ba902b7-01`, 'tracestate: congo=t61rcWkgMzE']);
  const match = TRACEPARENT.exec(String(upstream.headers.traceparent))!;
  assert.equal(match[1], traceId);
  assert.notEqual(match[2], '00f067aa0ba902b7', 'the parent is the edge span');
  assert.equal(match[3], '01');
  assert.equal(upstream.headers.tracestate, 'congo=t61rcWkgMzE');
  assert.equal(upstream.raw.filter((name) => name.toLowerCase() === 'traceparent').length, 1);
});

test('a malformed traceparent starts a new trace', async () => {
  const bad = [
    ['traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'],
    ['traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra'],
    ['traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4737-00f067aa0ba902b7-01'],
  ];
  for (const headers of bad) {
    const { upstream } = await get(headers);
    const match = TRACEPARENT.exec(String(upstream.headers.traceparent));
    assert.ok(match, `${headers}: ${upstream.headers.traceparent}`);
    assert.ok(!match[1].startsWith('4bf92f3577b34da6a3ce929d0e0e473'), `${headers} was continued`);
  }
});

test('with the admin token: the edge phases in Server-Timing beside the application\'s, and a traceresponse', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const { head, upstream } = await get([`traceparent: 00-${traceId}-b7ad6b7169203331-01`, `x-switchyard-trace: ${TOKEN}`], '/?delay=20');
  assert.equal(upstream.headers['x-switchyard-trace'], undefined, 'the token never goes upstream');
  const timings = head.split('\r\n').filter((line) => /^server-timing:/i.test(line)).map((line) => line.slice(line.indexOf(':') + 1).trim());
  assert.ok(timings.some((value) => value.startsWith('db;dur=12')), `the application's entry is kept: ${timings}`);
  const edge = timings.find((value) => value.startsWith('edge_route'));
  assert.ok(edge, `edge entries: ${timings}`);
  assert.match(edge, /^edge_route;desc="api";dur=[\d.]+;start=0, /);
  assert.match(edge, new RegExp(`edge_balance;desc="least_conn -> ${originAddress.replace(/\./g, '\\.')} \\(least in-flight\\)";dur=0;start=[\\d.]+`));
  assert.match(edge, /edge_connect;desc="(new|reused) connection";dur=[\d.]+;start=[\d.]+/);
  const upstreamWait = /edge_upstream;desc="to first byte";dur=([\d.]+);start=([\d.]+)/.exec(edge);
  assert.ok(upstreamWait, edge);
  assert.ok(Number(upstreamWait[1]) >= 15, `the upstream wait covers the application's 20 ms (${upstreamWait[1]})`);
  const traceresponse = headerOf(head, 'traceresponse');
  assert.match(String(traceresponse), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.equal(traceresponse!.split('-')[2], TRACEPARENT.exec(String(upstream.headers.traceparent))![2], 'traceresponse names the edge span the upstream saw as parent');
});

test('without the token, or with a wrong one, nothing about the edge or its backends leaks', async () => {
  for (const headers of [[], ['x-switchyard-trace: wrong-token'], [`x-switchyard-trace: ${TOKEN}x`], ['x-switchyard-trace: ']]) {
    const { head, upstream } = await get(headers);
    assert.equal(upstream.headers['x-switchyard-trace'], undefined, 'stripped even when not honoured');
    assert.doesNotMatch(head, /edge_|traceresponse/i, `${headers}: ${head}`);
    assert.ok(!head.includes(originAddress), 'no backend address in the response');
    const timings = head.split('\r\n').filter((line) => /^server-timing:/i.test(line));
    assert.deepEqual(timings.map((line) => line.slice(line.indexOf(':') + 1).trim()), ['db;dur=12;desc="users query"']);
  }
});

test('switchyard trace --admin-token merges the edge phases and the application\'s into one ordered waterfall', async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(node24, [cliEntry, 'trace', `http://127.0.0.1:${proxy.port}/?delay=15`, '--admin-token', TOKEN, '--json'], { timeout: 20_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)));
  });
  const result = JSON.parse(stdout) as { traceId: string; traceIdEchoed: boolean; serverTiming: { name: string; durationMs?: number; startMs?: number; description?: string }[]; response: { status: number } };
  assert.equal(result.response.status, 200);
  assert.equal(result.traceIdEchoed, true, 'the traceresponse carries the client trace id');
  const names = result.serverTiming.map((entry) => entry.name);
  assert.deepEqual(names.filter((name) => name.startsWith('edge_')), ['edge_route', 'edge_balance', 'edge_connect', 'edge_upstream']);
  assert.ok(names.includes('db'));
  const edge = result.serverTiming.filter((entry) => entry.name.startsWith('edge_'));
  for (let i = 1; i < edge.length; i++) assert.ok(edge[i].startMs! >= edge[i - 1].startMs!, `${edge[i].name} starts after ${edge[i - 1].name}`);
  const upstreamEntry = edge.find((entry) => entry.name === 'edge_upstream')!;
  const db = result.serverTiming.find((entry) => entry.name === 'db')!;
  assert.equal(db.durationMs, 12);
  assert.ok(upstreamEntry.durationMs! >= db.durationMs!, 'the application ran inside the edge\'s upstream wait');
});
