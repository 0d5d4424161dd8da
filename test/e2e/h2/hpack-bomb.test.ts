// HPACK bomb against a real `switchyard start` (workers: 0, so the process measured is the one serving):
// one request puts a 4 KB field in the dynamic table, the next header block is ~120 KB of one-byte
// references to it — 500 MB of header list. The codec stops collecting at max_header_list_size and stops
// decoding at the connection's per-second budget: the stream gets 431 and the connection
// GOAWAY(ENHANCE_YOUR_CALM), at a CPU cost that stays small (it was 1.7 s per block).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { HpackDecoder } from '../../../src/h2/codec/hpack.ts';
import { startRecordingOrigin, type RecordingOrigin } from '../../support/origins.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { connectRaw, errorCode, flag, frame, frameType, headerBlock, indexed, indexedLiteral, until } from '../../support/h2-frames.ts';

const BOMBS = 5;

/** utime + stime of a process, in seconds (Linux /proc; clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const request: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'bomb.test']];

/** One connection: the table entry, then the bomb; resolves with the bomb's :status and the GOAWAY code. */
async function bomb(port: number): Promise<{ status: string | undefined; goaway: number | undefined }> {
  const raw = await connectRaw(port);
  raw.socket.write(frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, 1, Buffer.concat([headerBlock(request), indexedLiteral('x-bomb', 'a'.repeat(4000))])));
  await until(raw, () => raw.frames.some((f) => f.type === frameType.HEADERS && f.streamId === 1));
  const refs = Buffer.alloc(120 * 1024, indexed(62)[0]);
  const block = Buffer.concat([headerBlock(request), refs]);
  const frames: Buffer[] = [];
  for (let at = 0; at < block.length; at += 16_384) {
    const last = at + 16_384 >= block.length;
    frames.push(frame(at === 0 ? frameType.HEADERS : 0x9, (at === 0 ? flag.END_STREAM : 0) | (last ? flag.END_HEADERS : 0), 3, block.subarray(at, at + 16_384)));
  }
  raw.socket.write(Buffer.concat(frames));
  await until(raw, () => raw.frames.some((f) => f.type === frameType.HEADERS && f.streamId === 3) || raw.frames.some((f) => f.type === frameType.GOAWAY), 30_000);
  // the server's responses decoded in order (one table for the connection)
  const decoder = new HpackDecoder();
  let status: string | undefined;
  for (const f of raw.frames) {
    if (f.type !== frameType.HEADERS) continue;
    const fields: string[] = [];
    decoder.decode(f.payload, 0, f.payload.length, fields);
    if (f.streamId === 3) status = fields[1];
  }
  await until(raw, () => raw.frames.some((f) => f.type === frameType.GOAWAY), 5000);
  const goaway = raw.frames.find((f) => f.type === frameType.GOAWAY)?.payload.readUInt32BE(4);
  raw.socket.destroy();
  await raw.closed;
  return { status, goaway };
}

describe('HPACK bomb', () => {
  let origin: RecordingOrigin;
  let edge: RunningSwitchyard;

  before(async () => {
    origin = await startRecordingOrigin();
    edge = await runSwitchyard(`
workers: 0
pools:
  origin: { backends: [ { address: "${origin.address}" } ] }
listeners:
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes: [ { match: { path_prefix: / }, pool: origin } ]
`);
  });

  after(async () => {
    await edge.stop();
    await origin.close();
  });

  it(`${BOMBS} bombs: each answered 431 and the connection cut with ENHANCE_YOUR_CALM, at little CPU`, async (t) => {
    const pid = edge.process.pid!;
    const port = edge.ready.listeners.h2.port;
    const cpuBefore = await cpuSeconds(pid);
    const started = performance.now();
    for (let i = 0; i < BOMBS; i++) {
      const result = await bomb(port);
      assert.equal(result.status, '431', `bomb ${i}: 431`);
      assert.equal(result.goaway, errorCode.ENHANCE_YOUR_CALM, `bomb ${i}: GOAWAY(ENHANCE_YOUR_CALM)`);
    }
    const cpu = (await cpuSeconds(pid)) - cpuBefore;
    t.diagnostic(`switchyard CPU for ${BOMBS} bombs: ${cpu.toFixed(2)} s (${((performance.now() - started) / 1000).toFixed(2)} s wall)`);
    // generous: the bombs themselves cost a few ms each now; before, 1.7 s each
    assert.ok(cpu < 1, `CPU ${cpu} s`);
    assert.equal((origin.received().match(/x-bomb/g) ?? []).length, BOMBS, 'only the first request of each connection reached the origin');
  });
});
