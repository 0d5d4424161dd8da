// DNS over TCP against hostile clients, on the real `switchyard start` process (DNS runs in the primary):
// a client that pipelines queries and never reads must not grow the process (write backpressure pauses
// reading, and a stalled write closes the connection); hundreds of sockets trickling one byte at a time
// must not keep a normal `dig +tcp` from an answer; one client address gets a bounded number of connections;
// a frame cut short, 10k pipelined queries, a slow-but-steady reader and connection churn are served or ended.
// The measured figures go out as test diagnostics (`--test-reporter=spec` shows them).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { queryBytes } from '../../support/dns-queries.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { parseDig } from './support.ts';

const run = promisify(execFile);

/** A TXT answer of ~1.1 KB: the amplification case, and what a never-reading client makes pile up. */
const bigText = Array.from({ length: 4 }, (_, i) => `"${String(i).repeat(250)}"`).join(', ');

const config = (tcp: string): string => `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  tcp: ${tcp}
  zones:
    - origin: big.test.
      soa: { mname: ns1.big.test., rname: hostmaster.big.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
        - { name: txt, type: TXT, value: [${bigText}] }
`;

/** Resident set size of a process in bytes, from /proc/PID/status; throws when it cannot be read. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`rssOf: no VmRSS in /proc/${pid}/status`);
  const bytes = Number(match[1]) * 1024;
  if (!(bytes > 0)) throw new Error(`rssOf: VmRSS of ${pid} is ${match[1]} kB`);
  return bytes;
}

function tcpFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + message.length);
  frame.writeUInt16BE(message.length, 0);
  message.copy(frame, 2);
  return frame;
}

function dnsTarget(running: RunningSwitchyard): { host: string; port: number } {
  const tcp = running.ready.dns?.find((address) => address.transport === 'tcp');
  assert.ok(tcp, `dns addresses in the ready line: ${JSON.stringify(running.ready)}`);
  return { host: tcp.host, port: tcp.port };
}

/** One `dig +tcp` from `source`; resolves with its status ('' when it got no answer) and how long it took. */
async function digTcp(target: { host: string; port: number }, source: string, name = 'www.big.test'): Promise<{ status: string; ms: number }> {
  const started = performance.now();
  try {
    const { stdout } = await run('dig', [`@${target.host}`, '-p', String(target.port), '-b', source, '+tcp', '+tries=1', '+time=3', name, 'A'], { timeout: 10_000 });
    return { status: parseDig(stdout).status, ms: performance.now() - started };
  } catch {
    return { status: '', ms: performance.now() - started };
  }
}

/**
 * Keeps `count` connections from `source` open until `until`, each pipelining `batch` queries per write
 * and never reading; a connection the server closes is opened again (an attacker would). Honours its own
 * socket's backpressure, so the test process does not grow: whatever grows is the server.
 */
async function neverReadingFlood(target: { host: string; port: number }, count: number, until: number, message: Buffer): Promise<{ connections: number; bytesWritten: number }> {
  const batch = Buffer.concat(Array.from({ length: 200 }, () => tcpFrame(message)));
  let connections = 0;
  let bytesWritten = 0;
  const one = async (): Promise<void> => {
    while (performance.now() < until) {
      connections++;
      const socket = net.connect({ ...target, localAddress: '127.0.0.1' });
      socket.on('error', () => {});
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => socket.destroy(), Math.max(0, until - performance.now()));
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        const write = (): void => {
          while (!socket.destroyed && performance.now() < until) {
            bytesWritten += batch.length;
            if (!socket.write(batch)) return void socket.once('drain', write);
          }
        };
        socket.once('connect', write);
      });
    }
  };
  await Promise.all(Array.from({ length: count }, one));
  return { connections, bytesWritten };
}

describe('dns over tcp: a client that pipelines and never reads', () => {
  let running: RunningSwitchyard;
  before(async () => {
    running = await runSwitchyard(config('{ idle_timeout: 10s }'));
  });
  after(() => running?.stop());

  it('leaves the serving process bounded and still answering', async (t) => {
    const pid = running.process.pid!;
    const target = dnsTarget(running);
    assert.equal((await digTcp(target, '127.0.0.1')).status, 'NOERROR');
    const baseline = await rssOf(pid);
    let peak = baseline;
    const until = performance.now() + 4000;
    const sampling = (async () => {
      while (performance.now() < until + 200) {
        peak = Math.max(peak, await rssOf(pid));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const flood = await neverReadingFlood(target, 4, until, queryBytes('txt.big.test.', 16));
    await sampling;
    const growthMb = (peak - baseline) / 2 ** 20;
    const answered = await digTcp(target, '127.0.0.1');
    const leftMb = ((await rssOf(pid)) - baseline) / 2 ** 20;
    t.diagnostic(`rss baseline ${(baseline / 2 ** 20).toFixed(0)} MB, peak growth ${growthMb.toFixed(1)} MB in 4 s, ${leftMb.toFixed(1)} MB above baseline after the client left; ${flood.connections} connection(s), ${(flood.bytesWritten / 2 ** 20).toFixed(1)} MB of queries accepted by the client's socket`);
    assert.equal(answered.status, 'NOERROR', 'the server answers after the flood');
    assert.ok(growthMb < 64, `rss grew ${growthMb.toFixed(1)} MB under a never-reading client`);
  });
});

describe('dns over tcp: trickling sockets and per-client limits', () => {
  let running: RunningSwitchyard;
  let target: { host: string; port: number };
  before(async () => {
    // a small total cap, so a few hundred tricklers from 30 addresses (10 each) more than fill it
    running = await runSwitchyard(config('{ max_connections: 100 }'));
    target = dnsTarget(running);
  });
  after(() => running?.stop());

  it('answers a normal dig +tcp promptly while 300 sockets trickle one byte at a time', async (t) => {
    const frame = tcpFrame(queryBytes('www.big.test.', 1));
    const sockets = new Set<net.Socket>();
    let stopped = false;
    let opened = 0;
    // each trickler sends one byte of a query every 300 ms and comes back when the server closes it
    const trickle = (source: string): void => {
      if (stopped) return;
      opened++;
      const socket = net.connect({ ...target, localAddress: source });
      sockets.add(socket);
      let sent = 0;
      const timer = setInterval(() => {
        if (sent < frame.length) socket.write(frame.subarray(sent, ++sent));
      }, 300);
      socket.on('error', () => {});
      socket.once('close', () => {
        clearInterval(timer);
        sockets.delete(socket);
        setTimeout(() => trickle(source), 50);
      });
    };
    try {
      for (let client = 1; client <= 30; client++) for (let i = 0; i < 10; i++) trickle(`127.0.1.${client}`);
      // the attack holds once every trickler connected or was turned away at least once
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const timings: number[] = [];
      const statuses: string[] = [];
      for (let i = 0; i < 5; i++) {
        const result = await digTcp(target, '127.0.0.1');
        timings.push(Math.round(result.ms));
        statuses.push(result.status || 'no answer');
      }
      t.diagnostic(`dig +tcp during the trickle (${sockets.size} sockets open, ${opened} opened so far): ${statuses.join(' ')}; ms ${timings.join(' ')}`);
      assert.deepEqual(statuses, Array(5).fill('NOERROR'));
      for (const ms of timings) assert.ok(ms < 1000, `a dig +tcp took ${ms} ms`);
    } finally {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    }
  });

  it('closes connections from one client address beyond its limit (default 10) at once', async () => {
    const sockets = Array.from({ length: 15 }, () => net.connect({ ...target, localAddress: '127.0.0.5' }));
    try {
      const closed: net.Socket[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${closed.length} of 15 connections closed within 3 s, expected 5`)), 3000);
        for (const socket of sockets) {
          socket.on('error', () => {});
          socket.once('close', () => {
            closed.push(socket);
            if (closed.length === 5) {
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
      // the connections that stay are served; another address is not affected
      const kept = sockets.filter((socket) => !socket.destroyed);
      assert.equal(kept.length, 10);
      const answer = new Promise<Buffer>((resolve) => kept[0].once('data', resolve));
      kept[0].write(tcpFrame(queryBytes('www.big.test.', 1, { id: 42 })));
      assert.equal((await answer).readUInt16BE(2), 42);
      assert.equal((await digTcp(target, '127.0.0.6')).status, 'NOERROR');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

/** Splits a TCP byte stream into DNS message ids as answers arrive; `ids` grows, `closed` flips on close. */
function answerReader(socket: net.Socket): { ids: number[]; closed: () => boolean } {
  const ids: number[] = [];
  let data: Buffer = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
    while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
      ids.push(data.readUInt16BE(2));
      data = data.subarray(2 + data.readUInt16BE(0));
    }
  });
  socket.on('error', () => {});
  socket.once('close', () => (closed = true));
  return { ids, closed: () => closed };
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return predicate();
}

describe('dns over tcp: truncated frames, deep pipelines, slow readers and churn', () => {
  let running: RunningSwitchyard;
  let target: { host: string; port: number };
  before(async () => {
    running = await runSwitchyard(config('{ io_timeout: 1s }'));
    target = dnsTarget(running);
  });
  after(() => running?.stop());

  it('ends a connection at once when the client half-closes inside a 65535-byte frame, and after io_timeout when it does not', async () => {
    const partial = Buffer.alloc(102);
    partial.writeUInt16BE(65535, 0);
    const halfClosed = net.connect(target);
    const first = answerReader(halfClosed);
    const started = performance.now();
    halfClosed.end(partial);
    assert.ok(await until(first.closed, 900), 'closed before io_timeout');
    const held = net.connect(target);
    const second = answerReader(held);
    held.write(partial);
    assert.ok(await until(second.closed, 3000), 'closed by io_timeout');
    assert.ok(performance.now() - started >= 900, 'the held one lasted io_timeout');
    assert.deepEqual([...first.ids, ...second.ids], []);
  });

  it('answers 10000 pipelined queries in one write, in order, on one connection', async () => {
    const socket = net.connect(target);
    try {
      const reader = answerReader(socket);
      socket.write(Buffer.concat(Array.from({ length: 10_000 }, (_, id) => tcpFrame(queryBytes('www.big.test.', 1, { id })))));
      assert.ok(await until(() => reader.ids.length === 10_000 || reader.closed(), 20_000), `${reader.ids.length} answers`);
      assert.ok(reader.ids.every((id, i) => id === i), 'answers in query order');
      assert.equal(reader.closed(), false);
    } finally {
      socket.destroy();
    }
  });

  it('serves a client that reads slowly but steadily: every answer, no io_timeout close', async (t) => {
    // 600 answers of ~1.1 KB read 8 KB every 25 ms (~320 KB/s): about 2 s, twice io_timeout, with the
    // server's writes blocked most of that time
    const socket = net.connect(target);
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.pause();
      let closed = false;
      socket.once('close', () => (closed = true));
      socket.on('error', () => {});
      socket.write(Buffer.concat(Array.from({ length: 600 }, (_, id) => tcpFrame(queryBytes('txt.big.test.', 16, { id })))));
      const started = performance.now();
      let data = Buffer.alloc(0);
      let answers = 0;
      while (!closed && answers < 600 && performance.now() - started < 20_000) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        const n = Math.min(8192, socket.readableLength);
        const chunk: Buffer | null = n > 0 ? socket.read(n) : (socket.read(0), null);
        if (chunk !== null) data = Buffer.concat([data, chunk]);
        while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
          answers++;
          data = data.subarray(2 + data.readUInt16BE(0));
        }
      }
      t.diagnostic(`slow reader: ${answers} answers in ${Math.round(performance.now() - started)} ms`);
      assert.equal(answers, 600);
      assert.equal(closed, false);
    } finally {
      socket.destroy();
    }
  });

  it('keeps answering dig +tcp while 2000 connections open and close, and holds none of them after', async (t) => {
    let stop = false;
    const digs: string[] = [];
    const digLoop = (async () => {
      while (!stop) digs.push((await digTcp(target, '127.0.0.1')).status || 'no answer');
    })();
    let opened = 0;
    // eight loops from another address: close at once, leave a partial frame, or send a query and half-close
    const partial = Buffer.from([0, 40, 1]);
    const query = tcpFrame(queryBytes('www.big.test.', 1));
    const loop = async (mode: number): Promise<void> => {
      while (opened < 2000) {
        opened++;
        const socket = net.connect({ ...target, localAddress: '127.0.0.7' });
        socket.on('error', () => {});
        socket.resume(); // read (and drop) answers, so the server's FIN is seen and the socket closes
        await new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.once('connect', () => {
            if (mode === 0) socket.destroy();
            else if (mode === 1) socket.end(query);
            else {
              socket.write(partial);
              setImmediate(() => socket.destroy());
            }
          });
        });
      }
    };
    await Promise.all([0, 1, 2, 0, 1, 2, 0, 1].map(loop));
    stop = true;
    await digLoop;
    t.diagnostic(`dig +tcp during churn of ${opened} connections: ${digs.length} digs, ${digs.filter((s) => s !== 'NOERROR').length} without NOERROR`);
    assert.ok(digs.length >= 1);
    assert.deepEqual(digs.filter((status) => status !== 'NOERROR'), []);
    const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( sport = :${target.port} )`]);
    assert.equal(stdout.trim(), '', 'no server-side connection left');
  });
});
