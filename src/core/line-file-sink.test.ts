import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LineFileSink } from './line-file-sink.ts';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sy-line-sink-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const flushed = (sink: LineFileSink): Promise<void> => new Promise((resolve) => sink.flush(resolve));

test('appends every line in order, across buffers, with UTF-8 and lines larger than a buffer', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'logs', 'access.log');
    const sink = LineFileSink.open(file, { flushMs: 5 });
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const line = JSON.stringify({ i, path: `/é/ü/${'x'.repeat(i % 90)}` }) + '\n';
      lines.push(line);
      assert.equal(sink.write(line), true);
    }
    const huge = JSON.stringify({ path: 'y'.repeat(200_000) }) + '\n';
    lines.push(huge);
    sink.write(huge);
    lines.push('{"last":true}\n');
    sink.write('{"last":true}\n');
    await flushed(sink);
    assert.equal(await readFile(file, 'utf8'), lines.join(''));
    assert.equal(sink.dropped, 0);
    await new Promise<void>((resolve) => sink.close(resolve));
  }));

test('a buffer that is not full reaches the file after flushMs, without a flush call', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'access.log');
    const sink = LineFileSink.open(file, { flushMs: 20 });
    sink.write('{"a":1}\n');
    const deadline = Date.now() + 5000;
    // polls the file (the event being waited for happens in the kernel); bounded by the deadline
    let text = '';
    while (text === '' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      text = await readFile(file, 'utf8');
    }
    assert.equal(text, '{"a":1}\n');
    await new Promise<void>((resolve) => sink.close(resolve));
  }));

test('past maxQueuedBytes whole lines are dropped and reported, never cut', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'access.log');
    const reports: number[] = [];
    const sink = LineFileSink.open(file, { maxQueuedBytes: 128 * 1024, onDrop: (lines) => reports.push(lines) });
    const line = `{"path":"/${'z'.repeat(1000)}"}\n`;
    // 600 KB within one turn: no write can complete before the turn ends, so the queue fills
    let accepted = 0;
    for (let i = 0; i < 600; i++) if (sink.write(line)) accepted++;
    assert.ok(sink.dropped > 0, 'some lines were dropped');
    assert.equal(accepted + sink.dropped, 600);
    await flushed(sink);
    assert.equal(await readFile(file, 'utf8'), line.repeat(accepted));
    assert.equal(reports.reduce((a, b) => a + b, 0), sink.dropped);
    await new Promise<void>((resolve) => sink.close(resolve));
  }));

test('lines still buffered when the process exits are written', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'access.log');
    const script = `
      const { LineFileSink } = await import(${JSON.stringify(path.join(import.meta.dirname, 'line-file-sink.ts'))});
      const sink = LineFileSink.open(${JSON.stringify(file)}, { flushMs: 60000 });
      for (let i = 0; i < 100; i++) sink.write('{"n":' + i + '}\\n');
      process.exit(0);
    `;
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err) => (err ? reject(err) : resolve())),
    );
    const expected = Array.from({ length: 100 }, (_, i) => `{"n":${i}}\n`).join('');
    assert.equal(await readFile(file, 'utf8'), expected);
  }));

/** A process writing 20000 lines of its own (`who`, its last argument) to its stdout through a LineFileSink. */
const writer = `
  const { LineFileSink } = await import(${JSON.stringify(path.join(import.meta.dirname, 'line-file-sink.ts'))});
  const sink = LineFileSink.standard(1, { flushMs: 5 });
  const who = process.argv.at(-1);
  for (let i = 0; i < 20000; i++) sink.write(JSON.stringify({ who, i, pad: 'x'.repeat(i % 300) }) + '\\n');
  sink.flush(() => process.exit(0));
`;

/** What two writers ('a' and 'b') sent, read back: every line whole, each writer's in order, none lost. */
function assertWritersLines(chunks: Buffer[]): void {
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  assert.equal(lines.pop(), '');
  const next: Record<string, number> = { a: 0, b: 0 };
  for (const line of lines) {
    const { who, i } = JSON.parse(line) as { who: string; i: number };
    assert.equal(i, next[who], `${who}'s lines in order`);
    next[who]++;
  }
  assert.deepEqual(next, { a: 20000, b: 20000 });
}

test('on a pipe shared by two processes (a slow reader) every line arrives whole and in order, none lost', () =>
  withDir(async (dir) => {
    // two writers share one pipe on their stdout, as a primary and its workers share a log collector's;
    // the reader holds back at first, so the pipe fills and the writers wait on it (Node makes a stdio
    // pipe blocking at start-up, so they block rather than meet EAGAIN)
    const fifo = path.join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const keeper = openSync(fifo, constants.O_RDWR); // a writer from the start, so the reader's open returns
    const reader = createReadStream(fifo);
    await once(reader, 'open');
    reader.pause();
    const parent = `
      const { spawn } = await import('node:child_process');
      const fs = await import('node:fs');
      const out = fs.openSync(process.argv.at(-1), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      const children = ['a', 'b'].map((who) => spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(writer)}, who], { stdio: ['ignore', out, 'inherit'] }));
      let left = children.length;
      for (const child of children) child.on('exit', (code) => { if (code !== 0) process.exit(1); if (--left === 0) process.exit(0); });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', parent, fifo], { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300)); // no event says "the pipe is full": hold the reader back a while
    const chunks: Buffer[] = [];
    reader.on('data', (chunk) => chunks.push(chunk as Buffer));
    reader.resume();
    assert.equal(await exited, 0);
    closeSync(keeper); // the last writer gone: the reader sees the end
    await once(reader, 'close');
    assertWritersLines(chunks);
  }));

test('on a pipe it writes through a non-blocking description of its own: stdout\'s shared one stays blocking', async () => {
  // The child's stdout is a pipe (as under a log collector); it reports, for every fd on that pipe, whether
  // the description is non-blocking (/proc/self/fdinfo: O_NONBLOCK is 04000 in `flags`), after its lines went out.
  const script = `
    import fs from 'node:fs';
    const { LineFileSink } = await import(${JSON.stringify(path.join(import.meta.dirname, 'line-file-sink.ts'))});
    const sink = LineFileSink.standard(1, { flushMs: 5 });
    for (let i = 0; i < 1000; i++) sink.write('{"n":' + i + '}\\n');
    sink.flush(() => {
      const pipe = fs.readlinkSync('/proc/self/fd/1');
      const seen = fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) === pipe; } catch { return false; } })
        .map((fd) => fd + ':' + ((parseInt(/flags:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o4000) ? 'nonblocking' : 'blocking'));
      process.stderr.write(seen.join(' '));
    });
  `;
  // through `| cat`: Node's own stdio 'pipe' is a socket pair, a shell pipe is a pipe
  const child = spawn('sh', ['-c', '"$0" --input-type=module -e "$1" | cat', process.execPath, script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, err);
  assert.equal(out, Array.from({ length: 1000 }, (_, n) => `{"n":${n}}\n`).join(''));
  const fds = err.trim().split(' ');
  assert.ok(fds.includes('1:blocking'), `stdout's description stays blocking: ${err}`);
  assert.equal(fds.filter((fd) => fd.endsWith(':nonblocking')).length, 1, `one non-blocking description of the pipe, the sink's: ${err}`);
});

test('on a Unix stream socket shared by two processes (a slow reader) every line arrives whole and in order, none lost', async () => {
  // a Node parent's stdio 'pipe' is a socket pair, as journald's stdout stream is a Unix stream socket; the
  // two writers inherit the parent's, so they share one socket, and the test holds the reader back at first
  const parent = `
    const { spawn } = await import('node:child_process');
    const children = ['a', 'b'].map((who) => spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(writer)}, who], { stdio: ['ignore', 'inherit', 'inherit'] }));
    let left = children.length;
    for (const child of children) child.on('exit', (code) => { if (code !== 0) process.exit(1); if (--left === 0) process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', parent], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pause();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300)); // no event says "the socket is full": hold the reader back a while
  const chunks: Buffer[] = [];
  // then a slow reader (a pause after every read): the writers keep waiting for room, and meet there
  child.stdout.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 1);
  });
  child.stdout.resume();
  const ended = once(child.stdout, 'end');
  assert.equal(await exited, 0);
  await ended;
  assertWritersLines(chunks);
});
