// Property test of the connection state machine: random sequences of pipelined requests (no body,
// Content-Length and chunked bodies), split into random packets, come back as responses in order with
// every body intact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { startProxy, splitResponses, type TestProxy } from './helpers.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';

let origin: EchoOrigin;
let proxy: TestProxy;

before(async () => {
  origin = await startEchoOrigin();
  proxy = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
});

after(async () => {
  await proxy.stop();
  await origin.close();
});

interface Req {
  kind: 'none' | 'length' | 'chunked';
  size: number;
  chunk: number;
}

function encode(req: Req, index: number): { bytes: Buffer; body: Buffer } {
  const body = Buffer.alloc(req.kind === 'none' ? 0 : req.size, String.fromCharCode(97 + (index % 26)));
  let head = `${req.kind === 'none' ? 'GET' : 'POST'} /r${index} HTTP/1.1\r\nHost: fuzz.test\r\n`;
  if (req.kind === 'length') return { bytes: Buffer.concat([Buffer.from(head + `Content-Length: ${body.length}\r\n\r\n`), body]), body };
  if (req.kind === 'none') return { bytes: Buffer.from(head + '\r\n'), body };
  head += 'Transfer-Encoding: chunked\r\n\r\n';
  const parts: Buffer[] = [Buffer.from(head)];
  for (let at = 0; at < body.length; at += req.chunk) {
    const piece = body.subarray(at, at + req.chunk);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return { bytes: Buffer.concat(parts), body };
}

function send(packets: Buffer[], expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 5000);
    socket.on('connect', async () => {
      for (const packet of packets) {
        socket.write(packet);
        await new Promise((r) => setImmediate(r));
      }
    });
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (splitResponses(received).length >= expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
  });
}

const request = fc.record({
  kind: fc.constantFrom('none', 'length', 'chunked') as fc.Arbitrary<Req['kind']>,
  size: fc.integer({ min: 0, max: 3000 }),
  chunk: fc.integer({ min: 1, max: 700 }),
});

test('pipelined requests split at random points are answered in order with intact bodies', { timeout: 50_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }), async (requests, cuts) => {
      const encoded = requests.map((req, i) => encode(req, i));
      const stream = Buffer.concat(encoded.map((e) => e.bytes));
      const packets: Buffer[] = [];
      let at = 0;
      for (let i = 0; at < stream.length; i++) {
        const size = cuts[i % cuts.length];
        packets.push(stream.subarray(at, at + size));
        at += size;
      }
      const responses = splitResponses(await send(packets, requests.length));
      assert.equal(responses.length, requests.length);
      responses.forEach((response, i) => {
        assert.equal(response.status, 200);
        const echoed = JSON.parse(response.body) as { url: string; bodyLength: number; bodySha256: string };
        assert.equal(echoed.url, `/r${i}`);
        assert.equal(echoed.bodyLength, encoded[i].body.length);
        assert.equal(echoed.bodySha256, createHash('sha256').update(encoded[i].body).digest('hex'));
      });
    }),
    { numRuns: 40 },
  );
});
