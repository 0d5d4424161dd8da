// `sticky` end to end: the first answer pins the client with a cookie that names no address, later requests
// carrying it reach the same backend on every protocol pair, and when that backend drains the client moves
// to another and is re-pinned. A forged or stale cookie is only a preference: the pool picks as usual.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { curlText } from '../../support/curl-text.ts';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';


describe('sticky sessions set by the edge', { timeout: 120_000 }, () => {
  let dir: string;
  const h1 = (name: string) => http.createServer((_req, res) => res.end(name));
  const h2 = (name: string) => {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(name);
    });
    return server;
  };
  const origins = { a: h1('a'), b: h1('b'), c: h2('c'), d: h2('d') };
  const sessions = new Set<http2.ServerHttp2Session>();
  for (const server of [origins.c, origins.d]) {
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
  }
  let listener: H2Listener;
  let pools: ReturnType<typeof buildPools>;
  const port = (name: keyof typeof origins) => (origins[name].address() as AddressInfo).port;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-sticky-'));
    for (const server of Object.values(origins)) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const yaml = `pools:
  h1: { backends: [ { address: 127.0.0.1:${port('a')} }, { address: 127.0.0.1:${port('b')} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${port('c')} }, { address: 127.0.0.1:${port('d')} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    access_log: false
    middleware: [ { sticky: { cookie: pin, max_age: 1h } } ]
    routes:
      - { match: { path_prefix: /h1 }, pool: h1 }
      - { match: { path_prefix: /h2 }, pool: h2 }
`;
    const { config } = parseConfigText(yaml, 'edge.yaml', dir);
    pools = buildPools(config.pools, { clock: systemClock });
    listener = createH2Listener(config.listeners[0], { pools, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir });
    await listener.start();
  });

  after(async () => {
    await listener.stop();
    pools.close();
    for (const session of sessions) session.destroy();
    for (const server of Object.values(origins)) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  for (const [client, flags] of [
    ['HTTP/1.1', ['--http1.1']],
    ['HTTP/2', ['--http2-prior-knowledge']],
  ] as const) {
    for (const pool of ['h1', 'h2'] as const) {
      it(`${client} → ${pool} pool: pins, keeps, fails over and re-pins`, async () => {
        const url = `http://127.0.0.1:${listener.address().port}/${pool}/`;
        const first = await curlText([...flags], url, []);
        const cookie = first.headers['set-cookie'];
        assert.match(cookie, /^pin=[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
        assert.ok(!cookie.includes('127.0.0.1'), 'the cookie names no address');
        const value = cookie.slice(4, 20);
        const pinned = first.body;
        for (let i = 0; i < 6; i++) {
          const again = await curlText([...flags], url, [`cookie: other=1; pin=${value}`]);
          assert.equal(again.body, pinned);
          assert.equal(again.headers['set-cookie'], undefined, 'no new cookie while the pin holds');
        }
        // the pinned backend drains: the client moves and gets a new pin
        const id = `127.0.0.1:${port(pinned as keyof typeof origins)}`;
        pools.get(pool)!.setDraining(id, true);
        try {
          const moved = await curlText([...flags], url, [`cookie: pin=${value}`]);
          assert.notEqual(moved.body, pinned);
          const repinned = moved.headers['set-cookie'];
          assert.match(repinned, /^pin=[A-Za-z0-9_-]{16};/);
          assert.notEqual(repinned.slice(4, 20), value);
          for (let i = 0; i < 3; i++) assert.equal((await curlText([...flags], url, [`cookie: pin=${repinned.slice(4, 20)}`])).body, moved.body);
        } finally {
          pools.get(pool)!.setDraining(id, false);
        }
        // a forged value is only a preference the pool cannot honour: served, and pinned to a real backend
        const forged = await curlText([...flags], url, ['cookie: pin=127.0.0.1%3A1']);
        assert.equal(forged.status, 200);
        assert.match(forged.headers['set-cookie'], /^pin=[A-Za-z0-9_-]{16};/);
      });
    }
  }
});
