// The UDP listener on both of its paths, the batching addon (recvmmsg/sendmmsg) and node:dgram, with real
// sockets: bursts larger than one batch all answered to the right sender, answers that wait (as the
// resolver's do) sent after their batch, 'drop' sends nothing, rate limiting truncates or drops, and a
// second socket on the port joins it (SO_REUSEPORT) on both paths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { UdpListener } from './transport.ts';
import { udpBatchAddon } from './udp-batch.ts';
import type { RateVerdict } from './rate-limit.ts';

/** Sends `messages` from one fresh socket and collects replies until `expected` arrived (or the timeout). */
async function exchange(port: number, messages: Buffer[], expected: number, timeoutMs = 3000): Promise<Buffer[]> {
  const socket = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => (expected === 0 ? resolve() : reject(new Error(`${replies.length} of ${expected} replies`))), timeoutMs);
      socket.on('message', (reply) => {
        replies.push(reply);
        if (replies.length === expected) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.bind(0, '127.0.0.1', () => {
        for (const message of messages) socket.send(message, port, '127.0.0.1');
      });
    });
  } finally {
    socket.close();
  }
  return replies;
}

/** A message the answerer recognises: "<kind>:<n>", padded to a DNS-like 40 bytes. */
const message = (kind: string, n: number): Buffer => Buffer.from(`${kind}:${n}`.padEnd(40, '.'));

const answer = (query: Buffer): Buffer | 'drop' | Promise<Buffer | 'drop'> => {
  const text = query.toString().replace(/\.+$/, '');
  if (text.startsWith('drop:')) return 'drop';
  if (text.startsWith('later:')) return new Promise((resolve) => setTimeout(() => resolve(Buffer.from(`answered ${text}`)), 20));
  return Buffer.from(`answered ${text}`);
};

const modes = [{ batch: true }, { batch: false }] as const;

describe('dns UDP listener', () => {
  it('the batching addon is built on Linux (npm install builds it; DNS falls back to dgram without it)', () => {
    if (process.platform === 'linux') assert.ok(udpBatchAddon(), 'src/dns/native/build/Release/switchyard_udp.node: run `node src/dns/native/build.cjs`');
  });

  for (const options of modes) {
    const mode = options.batch ? 'batch' : 'dgram';
    it(`${mode}: a burst of 200 datagrams (several batches) is answered, each reply to its query`, async () => {
      const listener = new UdpListener('127.0.0.1', answer, undefined, () => undefined, options);
      const port = await listener.listen(0);
      try {
        assert.equal(listener.mode, options.batch && udpBatchAddon() ? 'batch' : 'dgram');
        const queries = Array.from({ length: 200 }, (_, n) => message('now', n));
        const replies = await exchange(port, queries, 200);
        assert.deepEqual(replies.map(String).sort(), queries.map((query) => `answered ${String(query).replace(/\.+$/, '')}`).sort());
      } finally {
        await listener.close();
      }
    });

    it(`${mode}: answers that wait go out after their batch; 'drop' sends nothing`, async () => {
      const listener = new UdpListener('127.0.0.1', answer, undefined, () => undefined, options);
      const port = await listener.listen(0);
      try {
        const replies = await exchange(port, [message('later', 1), message('drop', 2), message('now', 3), message('later', 4)], 3);
        assert.deepEqual(replies.map(String).sort(), ['answered later:1', 'answered later:4', 'answered now:3']);
      } finally {
        await listener.close();
      }
    });

    it(`${mode}: over the rate limit, answers are truncated (slip) or dropped`, async () => {
      const verdicts: RateVerdict[] = ['send', 'slip', 'drop'];
      let call = 0;
      const limited: RateVerdict[] = [];
      // a DNS-shaped answer, so truncateResponse keeps its header and question
      const dns = (query: Buffer): Buffer => Buffer.concat([query.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0])]);
      const listener = new UdpListener('127.0.0.1', dns, () => verdicts[call++ % 3], (verdict) => limited.push(verdict), options);
      const port = await listener.listen(0);
      try {
        const replies = await exchange(port, [message('a', 1), message('b', 2), message('c', 3)], 2);
        assert.equal(replies.length, 2);
        assert.deepEqual(limited, ['slip', 'drop']);
        assert.equal(replies.filter((reply) => (reply[2] & 0x02) !== 0).length, 1, 'one reply carries TC');
      } finally {
        await listener.close();
      }
    });

    it(`${mode}: a second socket on the same port joins it (SO_REUSEPORT, as every worker binds)`, async () => {
      const first = new UdpListener('127.0.0.1', answer, undefined, () => undefined, options);
      const port = await first.listen(0);
      const second = new UdpListener('127.0.0.1', answer, undefined, () => undefined, options);
      try {
        assert.equal(await second.listen(port), port);
        await first.close();
        assert.equal((await exchange(port, [message('now', 7)], 1)).map(String)[0], 'answered now:7');
      } finally {
        await first.close();
        await second.close();
      }
    });
  }

  it('batch: a port taken without SO_REUSEPORT is refused with EADDRINUSE', async (t) => {
    if (!udpBatchAddon()) return t.skip('the addon is not built');
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind({ port: 0, address: '127.0.0.1', exclusive: true }, resolve));
    try {
      const listener = new UdpListener('127.0.0.1', answer, undefined, () => undefined);
      await assert.rejects(listener.listen(holder.address().port), { code: 'EADDRINUSE' });
    } finally {
      holder.close();
    }
  });
});
