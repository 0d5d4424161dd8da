// Regression (issue 13, items 1, 2 and 7) against `switchyard start` as a real process:
// - a chunked request listing Transfer-Encoding in Connection used to reach the origin with no length and
//   its chunk bytes as the next request on the pooled connection;
// - slow-body clients each held an origin connection for as long as they trickled;
// - bodies larger than request_buffering.memory_max spill under the config's data_dir (wired through the
//   supervisor into every listener kind) and are gone after the request.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { runSwitchyard, type RunningSwitchyard } from '../support/run-switchyard.ts';
import { startEchoOrigin } from '../support/origins.ts';
import { rawExchange, startLlhttpOrigin } from '../e2e/l7/helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

test('issue 13: Connection cannot unframe a request; slow bodies hold no origin connection; spills live under data_dir', { timeout: 30_000 }, async () => {
  const llhttp = await startLlhttpOrigin();
  cleanups.push(() => llhttp.close());
  const echo = await startEchoOrigin();
  cleanups.push(() => echo.close());
  const edge: RunningSwitchyard = await runSwitchyard(`
workers: 1
pools:
  parsed: { backends: [ { address: ${llhttp.address} } ] }
  echo: { backends: [ { address: ${echo.address} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    request_buffering: { memory_max: 4kb }
    routes:
      - { match: { path_prefix: /echo }, pool: echo }
      - { pool: parsed }
`);
  cleanups.push(() => edge.stop());
  const port = edge.ready.listeners.web.port;

  // item 1: the origin parses exactly one POST with the chunk payload as its body, then the next request
  const smuggled = 'GET /admin HTTP/1.1\r\nHost: a.test\r\n\r\n';
  const chunked = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
  const first = await rawExchange(port, `POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: transfer-encoding\r\n\r\n${chunked}`, { responses: 1 });
  assert.equal(first.responses[0]?.body, 'ok:/upload');
  const next = await rawExchange(port, 'GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n', { responses: 1 });
  assert.equal(next.responses[0]?.body, 'ok:/next');
  assert.deepEqual(
    llhttp.seen.map((r) => `${r.method} ${r.url} ${r.body.toString('latin1')}`),
    [`POST /upload ${smuggled}`, 'GET /next '],
  );
  assert.deepEqual(llhttp.errors, []);

  // item 7: ten clients send half a body; the origin has no new connection until they finish
  const before = llhttp.connections();
  const clients = await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const socket = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(`POST /slow/${i} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n\r\nab`);
      return socket;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(llhttp.connections(), before);
  assert.equal(llhttp.seen.length, 2);
  const answered = clients.map((socket) => new Promise<string>((resolve) => socket.on('data', (d) => resolve(d.toString('latin1')))));
  for (const socket of clients) socket.write('cd');
  for (const text of await Promise.all(answered)) assert.match(text, /^HTTP\/1\.1 200/);
  for (const socket of clients) socket.destroy();

  // a spilled body arrives whole; the spill directory is under data_dir and empty afterwards
  const body = Buffer.alloc(200_000, 'q');
  const spilled = await rawExchange(port, [`PUT /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`, body, '\r\n0\r\n\r\n'], { responses: 1 });
  assert.equal(spilled.responses[0]?.status, 200);
  assert.equal((JSON.parse(spilled.responses[0].body) as { bodySha256: string }).bodySha256, createHash('sha256').update(body).digest('hex'));
  assert.deepEqual(await readdir(path.join(edge.dir, 'data', 'request-bodies')), []);
});
