// Hostile and broken input over real sockets: FORMERR, NOTIMP or silence, never a crash or a hang; TCP
// framing, idle timeout, the connection cap, io_timeout against a trickle and max_in_flight; response rate
// limiting with slip.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../../src/core/index.ts';
import { queryBytes } from '../../support/dns-queries.ts';
import { dig, startDns, udpExchange, type RunningDns } from './support.ts';

const config = (extra = ''): string => `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  tcp: { idle_timeout: 300ms, max_connections: 3 }
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records: [ { name: www, type: A, value: 192.0.2.1 } ]
${extra}`;

/** Sends datagrams from one socket and collects what comes back until `count` arrived (bounded wait). */
async function collect(target: { host: string; port: number }, messages: Buffer[], count: number, timeoutMs = 3000): Promise<Buffer[]> {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`collected ${received.length} of ${count}`)), timeoutMs);
      socket.on('message', (data) => {
        received.push(data);
        if (received.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const message of messages) socket.send(message, target.port, target.host);
    });
  } finally {
    socket.close();
  }
  return received;
}

describe('dns bad input', () => {
  let dns: RunningDns;
  before(async () => {
    dns = await startDns(config());
  });
  after(() => dns?.stop());

  const rcodeOf = (response: Buffer): number => response[3] & 0xf;

  it('answers malformed queries with FORMERR, other opcodes with NOTIMP, and drops responses', async () => {
    const good = queryBytes('www.example.test.', 1, { id: 7 });
    const cases: [string, Buffer, number][] = [
      ['truncated question', good.subarray(0, good.length - 2), 1],
      ['label over 63', Buffer.concat([good.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]), 1],
      ['pointer loop', Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), 1],
      ['qdcount 3', Buffer.concat([good.subarray(0, 5), Buffer.from([3]), good.subarray(6)]), 1],
      ['opcode UPDATE', Buffer.concat([good.subarray(0, 2), Buffer.from([0x28, 0]), good.subarray(4)]), 4],
    ];
    for (const [what, message, rcode] of cases) {
      const response = await udpExchange(dns, message);
      assert.equal(response.readUInt16BE(0), 7, what);
      assert.equal(rcodeOf(response), rcode, what);
    }
    // a message with QR set gets no answer: the answer that arrives first is the next query's
    const socket = dgram.createSocket('udp4');
    try {
      const first = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      socket.send(queryBytes('www.example.test.', 1, { id: 1, flags: 0x8000 }), dns.port, dns.host);
      socket.send(queryBytes('www.example.test.', 1, { id: 2 }), dns.port, dns.host);
      assert.equal((await first).readUInt16BE(0), 2);
    } finally {
      socket.close();
    }
    assert.equal((await dig(dns, ['www.example.test'])).status, 'NOERROR', 'still serving');
  });

  it('keeps a TCP connection through garbage frames and serves the queries after them', async () => {
    const socket = net.connect(dns.port, dns.host);
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const frames = [Buffer.from([0, 3, 1, 2, 3]), Buffer.from([0, 0])];
      const query = queryBytes('www.example.test.', 1, { id: 99 });
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      // the last frame arrives in two pieces, split inside the length prefix
      const bytes = Buffer.concat([...frames, length, query]);
      socket.write(bytes.subarray(0, frames[0].length + frames[1].length + 1));
      socket.write(bytes.subarray(frames[0].length + frames[1].length + 1));
      const answer = await new Promise<Buffer>((resolve) => {
        let data = Buffer.alloc(0);
        socket.on('data', (chunk) => {
          data = Buffer.concat([data, chunk]);
          // frame 1 is FORMERR (ID 0x0102 is too short to parse a header: dropped); frame 2 empty: dropped
          if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
            const message = data.subarray(2, 2 + data.readUInt16BE(0));
            if (message.readUInt16BE(0) === 99) resolve(message);
            data = data.subarray(2 + data.readUInt16BE(0));
          }
        });
      });
      assert.equal(rcodeOf(answer), 0);
    } finally {
      socket.destroy();
    }
  });

  it('reassembles a large message sent in small pieces, and the query pipelined after it', async () => {
    // a 4000-byte message (a query with trailing bytes: FORMERR) and a normal query, in 97-byte writes
    const big = Buffer.concat([queryBytes('www.example.test.', 1, { id: 5 }), Buffer.alloc(4000)]);
    const next = queryBytes('www.example.test.', 1, { id: 6 });
    const bytes = Buffer.concat([big, next].map((message) => Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message])));
    const socket = net.connect({ port: dns.port, host: dns.host, noDelay: true });
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const answers = new Promise<Buffer[]>((resolve) => {
        let data = Buffer.alloc(0);
        const messages: Buffer[] = [];
        socket.on('data', (chunk) => {
          data = Buffer.concat([data, chunk]);
          while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
            messages.push(data.subarray(2, 2 + data.readUInt16BE(0)));
            data = data.subarray(2 + data.readUInt16BE(0));
          }
          if (messages.length === 2) resolve(messages);
        });
      });
      for (let at = 0; at < bytes.length; at += 97) {
        socket.write(bytes.subarray(at, at + 97));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const [first, second] = await answers;
      assert.deepEqual([first.readUInt16BE(0), rcodeOf(first)], [5, 1]);
      assert.deepEqual([second.readUInt16BE(0), rcodeOf(second)], [6, 0]);
    } finally {
      socket.destroy();
    }
  });

  it('closes idle TCP connections and caps concurrent ones', async () => {
    const started = Date.now();
    const idle = net.connect(dns.port, dns.host);
    await new Promise((resolve) => idle.once('close', resolve));
    assert.ok(Date.now() - started < 5000);
    const sockets = Array.from({ length: 5 }, () => net.connect(dns.port, dns.host));
    try {
      // two of five are over the cap of three: the server closes them at once, long before the idle timeout
      const closed: net.Socket[] = [];
      await new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.once('close', () => {
            closed.push(socket);
            if (closed.length === 2) resolve();
          });
        }
      });
      assert.equal(dns.server.status().tcp_connections, 3);
      assert.equal(sockets.filter((socket) => !socket.destroyed).length, 3);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

describe('dns response rate limiting', () => {
  let dns: RunningDns;
  const clock = new FakeClock();
  before(async () => {
    dns = await startDns(config('  rate_limit: { responses_per_second: 5, slip: 2 }'), { clock });
  });
  after(() => dns?.stop());

  it('sends the allowed responses, slips every second one truncated and drops the rest', async () => {
    const messages = Array.from({ length: 40 }, (_, id) => queryBytes('www.example.test.', 1, { id }));
    // time stands still (fake clock): 5 tokens, then 35 limited → 17 truncated, 18 dropped
    const received = await collect(dns, messages, 22);
    const truncated = received.filter((response) => response[2] & 0x02);
    assert.equal(received.length - truncated.length, 5);
    assert.equal(truncated.length, 17);
    for (const response of truncated) assert.equal(response.readUInt16BE(6), 0, 'a slip carries no answer');
    assert.equal(dns.server.status().counters.rate_limited, 35);
    clock.advance(1000);
    assert.equal((await udpExchange(dns, queryBytes('www.example.test.', 1)))[2] & 0x02, 0, 'tokens refill with time');
  });
});

describe('dns over tcp limits', () => {
  let dns: RunningDns;
  let upstream: dgram.Socket;
  const upstreamQueries: Buffer[] = [];
  before(async () => {
    // an upstream that takes queries and never answers: the resolver's answers stay in flight
    upstream = dgram.createSocket('udp4');
    upstream.on('message', (message) => upstreamQueries.push(message));
    await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));
    dns = await startDns(`
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  tcp: { idle_timeout: 10s, io_timeout: 300ms, max_in_flight: 4 }
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records: [ { name: www, type: A, value: 192.0.2.1 } ]
  resolver: { allow: [127.0.0.0/8], forward: ["127.0.0.1:${upstream.address().port}"], timeout: 2s }
`);
  });
  after(async () => {
    await dns?.stop();
    upstream?.close();
  });

  it('closes a connection that trickles a query a byte at a time after io_timeout, not idle_timeout', async () => {
    const query = queryBytes('www.example.test.', 1);
    const frame = Buffer.concat([Buffer.from([0, query.length]), query]);
    const socket = net.connect(dns.port, dns.host);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < frame.length) socket.write(frame.subarray(sent, ++sent));
    }, 50);
    const started = Date.now();
    try {
      await new Promise((resolve) => socket.once('close', resolve));
    } finally {
      clearInterval(timer);
    }
    const ms = Date.now() - started;
    assert.ok(ms >= 300 && ms < 2000, `closed after ${ms} ms`);
    assert.ok(sent < frame.length, 'closed before the query was complete');
    assert.ok(dns.server.status().counters.tcp_timeouts >= 1);
  });

  it('answers every query of a client that half-closes after sending them, resolver answers included', async () => {
    const socket = net.connect(dns.port, dns.host);
    try {
      const names = ['www.example.test.', 'www.example.test.', 'nope.elsewhere.test.'];
      const frames = names.map((name, id) => {
        const query = queryBytes(name, 1, { id });
        return Buffer.concat([Buffer.from([0, query.length]), query]);
      });
      socket.end(Buffer.concat(frames));
      // the upstream never answers: the resolver's SERVFAIL comes after its 2 s timeout, then the server ends
      const received = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk) => chunks.push(chunk));
        socket.once('error', reject);
        socket.once('end', () => resolve(Buffer.concat(chunks)));
      });
      const ids: number[] = [];
      for (let at = 0; at + 2 <= received.length; at += 2 + received.readUInt16BE(at)) ids.push(received.readUInt16BE(at + 2));
      assert.deepEqual(ids.sort(), [0, 1, 2]);
    } finally {
      socket.destroy();
    }
  });

  it('reads no further than max_in_flight unanswered queries on one connection', async () => {
    const socket = net.connect(dns.port, dns.host);
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      // 50 different names pipelined at once; each needs the upstream, which never answers
      const frames = Array.from({ length: 50 }, (_, i) => {
        const query = queryBytes(`n${i}.elsewhere.test.`, 1, { id: i });
        return Buffer.concat([Buffer.from([0, query.length]), query]);
      });
      const before = upstreamQueries.length;
      socket.write(Buffer.concat(frames));
      const deadline = Date.now() + 2000;
      while (upstreamQueries.length - before < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      // give a server that ignores the limit time to send more
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(upstreamQueries.length - before, 4);
    } finally {
      socket.destroy();
    }
  });
});
