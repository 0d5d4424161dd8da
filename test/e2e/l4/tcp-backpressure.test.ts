// The TCP listener relays from reused read buffers (src/l4/relay.ts). These tests push tens of MB of a
// non-repeating-per-buffer pattern through the real process in both directions at once, with a reader
// that stalls and one that reads in small bursts, so writes go pending and buffers are set aside and
// reused all the time: every byte must arrive in order (a buffer reused while a write still referred to
// it would show as corrupt data), and a stalled reader must stop the sender (backpressure, not buffering).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

// A random block of a prime length: repeated, its period never lines up with the 64 KiB read buffers.
const BLOCK = randomBytes(1_000_003);

/** `size` bytes of the pattern, from offset 0, in chunks of up to 256 KiB. */
function* pattern(size: number): Generator<Buffer> {
  let sent = 0;
  while (sent < size) {
    const offset = sent % BLOCK.length;
    const n = Math.min(size - sent, 256 * 1024, BLOCK.length - offset);
    yield BLOCK.subarray(offset, offset + n);
    sent += n;
  }
}

const digestOf = (size: number): string => {
  const hash = createHash('sha256');
  for (const chunk of pattern(size)) hash.update(chunk);
  return hash.digest('hex');
};

/** Writes the pattern with backpressure (waits for 'drain'), then ends; `flushed()` says how much the kernel took. */
function sendPattern(socket: net.Socket, size: number): { flushed(): number; done: Promise<void> } {
  const chunks = pattern(size);
  const done = new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    const pump = (): void => {
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        if (!socket.write(next.value)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end(resolve);
    };
    pump();
  });
  return { flushed: () => socket.bytesWritten - socket.writableLength, done };
}

/** Reads everything, hashing it; `slow`: pauses after every chunk and resumes on the next turn of the loop. */
function receive(socket: net.Socket, slow: boolean): Promise<{ bytes: number; digest: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (slow) {
        socket.pause();
        setImmediate(() => socket.resume());
      }
    });
    socket.once('end', () => resolve({ bytes, digest: hash.digest('hex') }));
    socket.once('error', reject);
    // a socket paused before (the stalled client) does not flow by itself when 'data' is listened to
    socket.resume();
  });
}

async function edge(port: number): Promise<RunningSwitchyard> {
  const running = await runSwitchyard(`
pools:
  raw: { backends: [ { address: 127.0.0.1:${port} } ] }
listeners:
  - name: l4
    listen: 127.0.0.1:0
    protocol: tcp
    pool: raw
`);
  cleanups.push(() => running.stop());
  return running;
}

/** Waits until `progress()` stops moving (sampled every 50 ms, three equal samples in a row), bounded. */
async function stalled(progress: () => number): Promise<number> {
  const deadline = Date.now() + 20_000;
  let last = -1;
  let same = 0;
  while (same < 3) {
    assert.ok(Date.now() < deadline, 'the sender stalls');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = progress();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

test('a stalled client stops the upstream (backpressure); both directions arrive intact through reused buffers', async () => {
  const down = 96 * 1024 * 1024;
  const up = 48 * 1024 * 1024;
  let upstreamSide: { flushed(): number; done: Promise<void> } | undefined;
  let upstreamReceived: Promise<{ bytes: number; digest: string }> | undefined;
  let accepted!: () => void;
  const connected = new Promise<void>((resolve) => (accepted = resolve));
  // half-open both ends: each side's FIN (its sending is done) must not cut what the other still sends
  const origin = net.createServer({ allowHalfOpen: true }, (socket) => {
    // the upstream reads slowly too: the client→upstream relay meets pending writes as well
    upstreamReceived = receive(socket, true);
    upstreamSide = sendPattern(socket, down);
    accepted();
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((done) => origin.close(done)));
  const running = await edge((origin.address() as net.AddressInfo).port);
  const client = net.connect({ port: running.ready.listeners.l4.port, host: '127.0.0.1', allowHalfOpen: true });
  client.pause();
  await connected;
  // the client reads nothing: the upstream must stall once the kernel buffers and the proxy's bounded
  // buffers are full, far short of what it wants to send
  const before = await stalled(() => upstreamSide!.flushed());
  assert.ok(before < down / 2, `the upstream stalled after ${before} bytes, not after sending everything`);

  const clientSide = sendPattern(client, up);
  const [clientReceived, received] = await Promise.all([receive(client, true), upstreamReceived!, clientSide.done, upstreamSide!.done]);
  assert.equal(clientReceived.bytes, down);
  assert.equal(clientReceived.digest, digestOf(down), 'upstream → client bytes intact and in order');
  assert.equal(received.bytes, up);
  assert.equal(received.digest, digestOf(up), 'client → upstream bytes intact and in order');
});

test('a tunnel whose upstream has finished and closed still delivers what is queued for a slow client', async () => {
  // The client sends nothing and half-closes at once, so the upstream's side closes as soon as it has sent
  // its 16 MB and FIN and read the edge's FIN — while much of those bytes still waits for a client that
  // has not read yet. That close must not cut them (the client gets all, then the FIN).
  const size = 16 * 1024 * 1024;
  const origin = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.resume();
    sendPattern(socket, size);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((done) => origin.close(done)));
  const running = await edge((origin.address() as net.AddressInfo).port);
  const client = net.connect({ port: running.ready.listeners.l4.port, host: '127.0.0.1', allowHalfOpen: true });
  client.pause();
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  client.end();
  // the upstream's end of the tunnel closes meanwhile (all sent and acknowledged by the edge's kernel side)
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const received = await receive(client, false);
  assert.equal(received.bytes, size, 'every byte the upstream sent reaches the client');
  assert.equal(received.digest, digestOf(size));
});
